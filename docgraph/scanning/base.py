"""The scanner interface: scan a stream of bytes, say whether it answers.

A scanner is reached over the network (or a Unix socket); every call either
answers within its timeout or raises :class:`ScannerUnavailable`, never
hangs. A scanner that answers but cannot scan this stream (too large for it,
say) raises :class:`ScanRefused`: trying again would get the same answer.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncIterable
from typing import Any

from docgraph.errors import Unavailable


class ScannerUnavailable(Unavailable):
    """The scanner did not answer (not running, unreachable, too slow)."""

    default_message = "The virus scanner is unreachable."


class ScanRefused(Exception):
    """The scanner answered with an error for this stream (e.g. over its size limit)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ScanResult:
    """What the scanner found: nothing (``signature`` None), or a signature's name."""

    signature: str | None

    @property
    def clean(self) -> bool:
        return self.signature is None


class Scanner(abc.ABC):
    engine: str

    @abc.abstractmethod
    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        """Scan the bytes ``chunks`` yields (``ScannerUnavailable``, ``ScanRefused``)."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return if the scanner answers, else ``ScannerUnavailable``."""

    @abc.abstractmethod
    async def version(self) -> str:
        """The scanner's version (and its signatures'), or ``ScannerUnavailable``."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Where the scanner is, for health checks (no secrets)."""
