"""Reports: plots, tables, JSON and the HTML page."""
