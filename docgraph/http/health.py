"""``/healthz`` and ``/readyz``: what load balancers and orchestrators probe."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from docgraph.http.context import services
from docgraph.http.responses import JSONResponse
from docgraph.resolvers.maintenance import database_ready
from docgraph.resolvers.scans import scanner_status


async def healthz(request: Request) -> Response:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers: this instance can serve traffic.

    ``scanner`` tells about virus scanning (configured or not, answering or not,
    documents waiting): a scanner that does not answer does not make the
    instance unready (documents wait ``PENDING``; everything else is served).
    """
    app_services = services(request.app)
    if await database_ready(app_services.db):
        scanner = await scanner_status(app_services.db, app_services.scanner,
                                       app_services.settings)
        return JSONResponse({"status": "ready", "scanner": scanner})
    return JSONResponse({"status": "unavailable", "reason": "database unreachable"},
                        status_code=503, headers={"Retry-After": "2"})
