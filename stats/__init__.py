"""The village and the county at a glance: monthly figures counted by the daily close and read current, dashboards, open data."""
