"""GraphiQL, served entirely by docgraph: no CDN, works without internet access.

Under ``docgraph dev`` on a loopback address the page comes with the
development key in its headers, so the first query runs as is (see
:func:`dev_key_for`); ``docgraph serve`` never passes a key, and its page
holds only a placeholder.

The page loads React, GraphiQL and the explorer plugin from
``/graphql/assets/``; the files are the npm packages' own (the versions
Strawberry's page uses), vendored under ``docgraph/static/graphiql/`` by
``scripts/vendor_graphiql.py`` and checked against the integrity hashes below.
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import json
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

from docgraph.http.paths import GRAPHIQL_ASSETS_PATH

STATIC_DIR = Path(__file__).parent.parent / "static"
ASSETS_DIR = STATIC_DIR / "graphiql"
ASSETS_URL = GRAPHIQL_ASSETS_PATH
PAGE_TEMPLATE = STATIC_DIR / "graphiql.html"


@dataclasses.dataclass(frozen=True)
class Asset:
    package: str
    version: str
    path: str  # inside the npm package
    integrity: str  # Subresource Integrity (sha384), as in Strawberry's page

    @property
    def local_path(self) -> str:
        """Where the file sits under ASSETS_DIR (and ASSETS_URL): unpkg's layout."""
        return f"{self.package}@{self.version}/{self.path}"

    @property
    def url(self) -> str:
        return f"{ASSETS_URL}/{self.local_path}"

    def tag(self) -> str:
        url, integrity = html.escape(self.url), html.escape(self.integrity)
        if self.path.endswith(".css"):
            return f'<link rel="stylesheet" href="{url}" integrity="{integrity}" />'
        return f'<script src="{url}" integrity="{integrity}"></script>'


STYLES = (
    Asset("graphiql", "3.8.3", "graphiql.min.css",
          "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"),
    Asset("@graphiql/plugin-explorer", "1.0.2", "dist/style.css",
          "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi"),
)
SCRIPTS = (
    Asset("react", "18.2.0", "umd/react.production.min.js",
          "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"),
    Asset("react-dom", "18.2.0", "umd/react-dom.production.min.js",
          "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"),
    Asset("graphiql", "3.8.3", "graphiql.min.js",
          "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"),
    Asset("@graphiql/plugin-explorer", "1.0.2", "dist/index.umd.js",
          "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9"),
)
ASSETS = STYLES + SCRIPTS


DEV_HEADERS_MARK = "/* docgraph:dev-headers */ null"


def _script_string(text: str) -> str:
    """``text`` as a JavaScript string literal that cannot end the ``<script>`` it is in."""
    literal = json.dumps(text)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        literal = literal.replace(char, escape)
    return literal


@cache
def page(dev_key: str | None = None) -> str:
    """The GraphiQL page, its asset tags pointing at docgraph's own copies; with
    ``dev_key``, its headers editor holds that key."""
    template = PAGE_TEMPLATE.read_text(encoding="utf-8")
    if dev_key is not None:
        headers = json.dumps({"Authorization": f"Bearer {dev_key}"}, indent=2)
        template = template.replace(DEV_HEADERS_MARK, _script_string(headers))
    return (template
            .replace("<!-- docgraph:styles -->", "\n    ".join(a.tag() for a in STYLES))
            .replace("<!-- docgraph:scripts -->", "\n    ".join(a.tag() for a in SCRIPTS)))


def is_loopback(host: str | None) -> bool:
    """``host`` (a name or address, no port) is this machine's loopback interface."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dev_key_for(scope: Scope, dev_key: str | None) -> str | None:
    """``dev_key`` if this request for the page may see it, else None.

    Only a browser on this machine, asking by a loopback name (``Host``: a DNS
    name rebound to 127.0.0.1 is not one), and never a script of another
    origin (which sends ``Origin``: with ``DOCGRAPH_CORS_ORIGINS`` it could
    read the page). A navigation to the page sends no ``Origin``.
    """
    if dev_key is None:
        return None
    headers = Headers(scope=scope)
    host = headers.get("host", "")
    if not is_loopback(urlsplit(f"//{host}").hostname):
        return None
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != host:
        return None
    return dev_key
