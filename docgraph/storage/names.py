"""File names in download headers: what a browser saves a download as."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_FILE_NAME = 255
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/]')


def safe_file_name(name: str) -> str:
    """``name`` without path separators, quotes or control characters, ≤ 255 characters.

    Empty when nothing usable is left.
    """
    cleaned = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().strip(".")
    return cleaned[:MAX_FILE_NAME]


def content_disposition(file_name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact UTF-8 one (RFC 6266)."""
    name = safe_file_name(file_name) or "download"
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
