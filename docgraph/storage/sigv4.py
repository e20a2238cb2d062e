"""AWS Signature Version 4 query-string presigning of S3 URLs (no I/O).

The minio SDK presigns with only ``host`` signed. Upload URLs here also sign
``Content-Type``, ``Content-Length`` and ``If-None-Match: *``, so the S3
service itself refuses a body of another size or type, and a second upload
over an existing object. URLs are path-style (``BASE/bucket/key``), which
MinIO and S3-compatible services accept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _host(base_url: str) -> tuple[str, str, str]:
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise ValueError(f"not an absolute URL: {base_url!r}")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return parts.scheme, host, parts.path.rstrip("/")


def presign(*, method: str, base_url: str, bucket: str, key: str, region: str,
            access_key: str, secret_key: str, expires: int, now: dt.datetime,
            headers: Mapping[str, str] | None = None,
            query: Mapping[str, str] | None = None) -> str:
    """A presigned URL for ``method`` on ``bucket/key``, valid ``expires`` seconds from ``now``.

    ``headers`` must be sent exactly as given by whoever uses the URL;
    ``query`` parameters (e.g. ``response-content-disposition``) are signed too.
    """
    scheme, host, base_path = _host(base_url)
    amz_date = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    datestamp = amz_date[:8]
    scope = f"{datestamp}/{region}/s3/aws4_request"
    signed = {name.lower(): " ".join(value.split()) for name, value in (headers or {}).items()}
    signed["host"] = host
    signed_names = ";".join(sorted(signed))
    params = {
        **(query or {}),
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": signed_names,
    }
    canonical_query = "&".join(
        f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in params.items()))
    canonical_uri = f"{base_path}/{_encode(bucket)}/{quote(key, safe='/-_.~')}"
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in sorted(signed))
    canonical_request = "\n".join([method, canonical_uri, canonical_query, canonical_headers,
                                   signed_names, UNSIGNED_PAYLOAD])
    string_to_sign = "\n".join([ALGORITHM, amz_date, scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    signing_key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), datestamp), region),
                              "s3"), "aws4_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{scheme}://{host}{canonical_uri}?{canonical_query}&X-Amz-Signature={signature}"
