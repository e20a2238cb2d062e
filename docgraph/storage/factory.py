"""The configured object store, and the signing secret ``make run`` keeps."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

from docgraph.config import ConfigError, Settings
from docgraph.storage.base import ObjectStore, StoreLimits
from docgraph.storage.local import LocalObjectStore
from docgraph.storage.s3 import S3ObjectStore

SIGNING_SECRET_FILE = "storage-signing-secret"  # noqa: S105 - a file name


def store_limits(settings: Settings) -> StoreLimits:
    return StoreLimits(upload_url_seconds=settings.upload_url_seconds,
                       download_url_seconds=settings.download_url_seconds,
                       download_url_max_seconds=settings.download_url_max_seconds,
                       max_object_bytes=settings.max_object_bytes)


def build_store(settings: Settings, *, local_route: str) -> ObjectStore:
    """The store ``settings`` choose. Makes no network call.

    ``local_route``: the path under which the app serves the local backend's
    signed transfers (``/storage/``).
    """
    settings.check_storage()
    if settings.storage_backend == "s3":
        assert settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key
        return S3ObjectStore(endpoint=settings.s3_endpoint, base_url=settings.s3_base_url,
                             bucket=settings.s3_bucket, access_key=settings.s3_access_key,
                             secret_key=settings.s3_secret_key, region=settings.s3_region,
                             secure=settings.s3_secure, timeout=settings.storage_timeout,
                             limits=store_limits(settings))
    if not settings.storage_signing_secret:
        raise ConfigError("DOCGRAPH_STORAGE_SIGNING_SECRET is not set: the local storage "
                          "backend signs its URLs with it")
    return LocalObjectStore(settings.objects_dir, secret=settings.storage_signing_secret,
                            url_prefix=settings.base_url + local_route,
                            limits=store_limits(settings))


def with_dev_signing_secret(settings: Settings) -> Settings:
    """``settings`` with a signing secret: the configured one, else one kept in the data dir.

    The kept secret is generated once (mode 0600), so signed URLs survive a
    restart of ``make run``.
    """
    if settings.storage_backend != "local" or settings.storage_signing_secret:
        return settings
    path = settings.data_dir / SIGNING_SECRET_FILE
    secret = _read_secret(path)
    if secret is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another command created it meanwhile
            secret = _read_secret(path)
            if secret is None:
                raise ConfigError(f"{path} is empty or malformed; remove it") from None
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secret + "\n")
    return dataclasses.replace(settings, storage_signing_secret=secret)


def _read_secret(path: Path) -> str | None:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        return None
    return value if len(value) >= 32 else None
