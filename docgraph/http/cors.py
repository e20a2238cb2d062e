"""What cross-origin pages may do: the settings of Starlette's ``CORSMiddleware``.

Allowed origins come from ``DOCGRAPH_CORS_ORIGINS`` (none by default, a list,
or ``*``). The API authenticates with bearer keys, never cookies, so
credentials are not allowed. ``app.py`` installs the middleware outermost:
preflights are answered before authentication (browsers send them without
credentials), and errors rendered by the layers below (401, 413, 429, the
queue's 503) carry the CORS headers, so the page can read them.
"""

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "Accept",
                   "If-None-Match")
EXPOSED_HEADERS = ("X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                   "X-RateLimit-Reset", "Retry-After", "X-Statement-Count",
                   "Content-Disposition", "Content-Length")
PREFLIGHT_MAX_AGE = 600
