"""The demo village and the default rule files."""
