"""GraphiQL, served entirely by docgraph: no CDN, works without internet access.

The page loads React, GraphiQL and the explorer plugin from
``/graphql/assets/``; the files are the npm packages' own (the versions
Strawberry's page uses), vendored under ``docgraph/static/graphiql/`` by
``scripts/vendor_graphiql.py`` and checked against the integrity hashes below.
"""

from __future__ import annotations

import dataclasses
import html
from functools import cache
from pathlib import Path

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


@cache
def page() -> str:
    """The GraphiQL page, its asset tags pointing at docgraph's own copies."""
    template = PAGE_TEMPLATE.read_text(encoding="utf-8")
    return (template
            .replace("<!-- docgraph:styles -->", "\n    ".join(a.tag() for a in STYLES))
            .replace("<!-- docgraph:scripts -->", "\n    ".join(a.tag() for a in SCRIPTS)))
