"""What the bytes are: a file's type read from its first bytes, held against the declared one.

The detector is libmagic, the library of ``file(1)`` (Debian's ``libmagic1``
and its compiled magic database), through ``file-magic``, the Python binding
that ships with ``file`` itself. It was chosen over puremagic (pure Python)
because, from a file's first few KiB, it tells what matters here and
puremagic did not: an ELF binary (puremagic gives it no MIME type), HTML
however it begins (puremagic misses ``<HTML>`` after a blank line), a plain
ZIP from an Office document (puremagic guesses any ZIP to be a .docx), and
text from binary data. Only ``HEAD_BYTES`` are read (one ranged read) and
handed to it, off the event loop.

A declared type the bytes contradict is refused; a detection that says no
more than "text" or "data" (plain text, CSV, anything it cannot tell) accepts
the declared type as it is.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import magic

HEAD_BYTES = 8192

# What the detector answers when it cannot tell more than "some text" or "some bytes".
UNDETERMINED = frozenset({"text/plain", "application/octet-stream", "application/x-empty",
                          "inode/x-empty"})
# Another name for the same type, as clients and libmagic spell them.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/x-icon": "image/vnd.microsoft.icon",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/x-gzip": "application/gzip",
    "text/xml": "application/xml",
    "application/x-javascript": "text/javascript",
    "application/javascript": "text/javascript",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "application/vnd.ms-outlook": "application/x-ole-storage",
    "application/cdfv2": "application/x-ole-storage",
}
# Container formats other formats are made of: a detection of the container
# does not contradict a declared type built on it (a .docx is a ZIP).
_ZIP_BASED = frozenset({
    "application/zip", "application/java-archive", "application/vnd.android.package-archive",
    "application/epub+zip", "application/vnd.ms-xpsdocument", "application/oxps",
    "application/x-xpinstall", "application/vnd.google-earth.kmz", "model/3mf",
    "application/vnd.apple.keynote", "application/vnd.apple.pages",
    "application/vnd.apple.numbers", "application/x-itunes-ipa",
})
_OLE_BASED = frozenset({
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.visio", "application/x-msi", "application/vnd.ms-project",
    "application/x-ole-storage",
})


def normalize(mime_type: str) -> str:
    base = mime_type.split(";", 1)[0].strip().lower()
    return ALIASES.get(base, base)


def _zip_based(declared: str) -> bool:
    return (declared in _ZIP_BASED or declared.endswith("+zip")
            or declared.startswith(("application/vnd.openxmlformats-officedocument.",
                                    "application/vnd.oasis.opendocument.",
                                    "application/vnd.ms-excel.", "application/vnd.ms-word.",
                                    "application/vnd.ms-powerpoint.")))


def _xml_based(declared: str) -> bool:
    return declared == "application/xml" or declared.endswith("+xml")


def _json_based(declared: str) -> bool:
    return declared == "application/json" or declared.endswith("+json")


def compatible(declared: str, detected: str | None) -> bool:
    """Whether bytes detected as ``detected`` may be recorded as ``declared``."""
    if detected is None:
        return True
    declared, detected = normalize(declared), normalize(detected)
    if detected in UNDETERMINED or declared == detected:
        return True
    if declared == "application/octet-stream":  # claims nothing about the bytes
        return True
    if detected == "application/zip":
        return _zip_based(declared)
    if detected == "application/x-ole-storage":
        return declared in _OLE_BASED
    if detected == "application/xml":
        return _xml_based(declared) or declared == "text/html" \
            or declared == "application/xhtml+xml"
    if detected == "application/json":
        return _json_based(declared) or declared.startswith("text/")
    # Text of one kind declared as text of another (a .md the detector calls a script):
    # its subtypes are guesses, and text is served as text.
    if detected.startswith("text/") and declared.startswith("text/"):
        return True
    # An Office document detected as such, declared as the format it is built on.
    return declared == "application/zip" and _zip_based(detected)


_local = threading.local()


def _cookie() -> Any:
    """This thread's libmagic handle (a handle is not safe to share between threads)."""
    cookie = getattr(_local, "cookie", None)
    if cookie is None:
        cookie = magic.open(magic.MAGIC_MIME_TYPE | magic.MAGIC_ERROR)
        if cookie.load() != 0:
            raise RuntimeError(f"libmagic could not load its database: {cookie.error()}")
        _local.cookie = cookie
    return cookie


def detect_sync(head: bytes) -> str | None:
    """The MIME type libmagic reads in ``head``, or None if it cannot say."""
    if not head:
        return None
    found = _cookie().buffer(head)
    if not found or "/" not in found:
        return None
    return normalize(found)[:255]


async def detect(head: bytes) -> str | None:
    """:func:`detect_sync`, off the event loop."""
    return await asyncio.to_thread(detect_sync, head)
