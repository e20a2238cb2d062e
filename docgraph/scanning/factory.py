"""The configured scanner, if any."""

from __future__ import annotations

from docgraph.config import Settings
from docgraph.scanning.base import Scanner
from docgraph.scanning.clamav import ClamdScanner


def build_scanner(settings: Settings) -> Scanner | None:
    """clamd at ``DOCGRAPH_CLAMD_ADDRESS``, or None (no scanner). Makes no network call."""
    if settings.clamd_address is None:
        return None
    return ClamdScanner(settings.clamd_address, timeout=settings.scan_timeout_seconds)
