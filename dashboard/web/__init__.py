"""The web layer on top of the domain: requests in, pages and htmx fragments out, each failure a message."""
