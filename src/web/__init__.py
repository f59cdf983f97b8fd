"""Server-rendered patient pages (templates, static JS/CSS)."""
