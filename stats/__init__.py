"""The village and the county at a glance: monthly figures kept as transfers post, dashboards, open data."""
