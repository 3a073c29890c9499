"""The community foundation (社区基金): micro-projects from resident groups and welfare stations, and the wish board (微心愿)."""
