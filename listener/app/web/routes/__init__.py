"""One router per resource: auth (login, stylesheet), search, products, posts, stats (and saved searches)."""
