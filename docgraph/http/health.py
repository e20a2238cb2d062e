"""``/healthz`` and ``/readyz``: what load balancers and orchestrators probe."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import services
from docgraph.http.responses import JSONResponse
from docgraph.resolvers.maintenance import database_ready


async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers: this instance can serve traffic."""
    if await database_ready(services(request.app).db):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable", "reason": "database unreachable"},
                        status_code=503, headers={"Retry-After": "2"})
