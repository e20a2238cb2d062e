"""HMAC-SHA256 signatures of the local backend's storage URLs.

A signature covers the method, the object key, the expiry (Unix seconds),
and for uploads the declared content type and size, for downloads the file
name offered to the browser. Changing any of them, or using the URL for
another key, invalidates it. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping

from docgraph.errors import InvalidSignature

_VERSION = "docgraph-storage-v1"
_NUMBER = re.compile(r"[0-9]{1,15}")


class UrlSigner:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def signature(self, method: str, key: str, expires: int, *, content_type: str = "",
                  size: int | None = None, file_name: str = "") -> str:
        fields = [_VERSION, method.upper(), key, str(expires), content_type,
                  "" if size is None else str(size), file_name]
        if any("\n" in f for f in fields):
            raise ValueError("signed fields must not contain a newline")
        message = "\n".join(fields).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def upload_query(self, key: str, expires: int, content_type: str, size: int) -> dict:
        return {"expires": str(expires), "content_type": content_type, "size": str(size),
                "signature": self.signature("PUT", key, expires, content_type=content_type,
                                            size=size)}

    def download_query(self, key: str, expires: int, file_name: str) -> dict:
        query = {"expires": str(expires)}
        if file_name:
            query["filename"] = file_name
        query["signature"] = self.signature("GET", key, expires, file_name=file_name)
        return query

    def verify_upload(self, key: str, query: Mapping[str, str]) -> tuple[str, int]:
        """The declared (content type, size) of a valid upload URL, else ``InvalidSignature``."""
        expires = _expiry(query)
        content_type = query.get("content_type", "")
        size_text = query.get("size", "")
        if not _NUMBER.fullmatch(size_text):
            raise InvalidSignature("The upload URL is not validly signed.")
        size = int(size_text)
        expected = self.signature("PUT", key, expires, content_type=content_type, size=size) \
            if "\n" not in content_type else ""
        _check(expected, query, expires)
        return content_type, size

    def verify_download(self, key: str, query: Mapping[str, str]) -> str:
        """The file name of a valid download URL ("" for none), else ``InvalidSignature``."""
        expires = _expiry(query)
        file_name = query.get("filename", "")
        expected = self.signature("GET", key, expires, file_name=file_name) \
            if "\n" not in file_name else ""
        _check(expected, query, expires)
        return file_name


def _expiry(query: Mapping[str, str]) -> int:
    text = query.get("expires", "")
    if not _NUMBER.fullmatch(text):
        raise InvalidSignature("The URL is not validly signed.")
    return int(text)


def _check(expected: str, query: Mapping[str, str], expires: int) -> None:
    given = query.get("signature", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode("utf-8",
                                                                              "replace")):
        raise InvalidSignature("The URL's signature does not match: it was altered, or is "
                               "used for another object or method.")
    if expires < time.time():
        raise InvalidSignature("The URL has expired.")
