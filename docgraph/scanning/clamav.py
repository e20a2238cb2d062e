"""ClamAV's clamd, over its socket (a Unix socket or TCP), with the z-commands.

``zINSTREAM`` sends the bytes as chunks, each preceded by its length as four
big-endian bytes, and a zero-length chunk to end; clamd answers
``stream: OK``, ``stream: NAME FOUND`` or ``... ERROR`` (e.g. ``INSTREAM
size limit exceeded``, its ``StreamMaxLength``, after which it closes the
connection). ``zVERSION`` answers ``ClamAV 1.4.6/27000/...``. Each command
opens its own connection; each step has the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterable
from typing import Any

from docgraph.scanning.base import Scanner, ScannerUnavailable, ScanRefused, ScanResult

CHUNK_BYTES = 64 * 1024
MAX_REPLY_BYTES = 4096
_FOUND = " FOUND"
_ERROR = " ERROR"


def parse_address(address: str) -> tuple[str, int] | str:
    """``/path/to/clamd.ctl`` (a Unix socket) or ``host:port`` (TCP)."""
    if address.startswith("/"):
        return address
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected an absolute socket path or host:port, got {address!r}")
    return host.strip("[]"), int(port)


class ClamdScanner(Scanner):
    engine = "clamav"

    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        self.address = address
        self._target = parse_address(address)
        self.timeout = timeout

    def describe(self) -> dict[str, Any]:
        return {"engine": self.engine, "address": self.address}

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            if isinstance(self._target, str):
                opening = asyncio.open_unix_connection(self._target)
            else:
                opening = asyncio.open_connection(*self._target)
            return await asyncio.wait_for(opening, self.timeout)
        except (OSError, TimeoutError) as exc:
            raise ScannerUnavailable(f"clamd at {self.address} is unreachable: "
                                     f"{exc.__class__.__name__}") from exc

    async def _reply(self, reader: asyncio.StreamReader) -> str:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\0"), self.timeout)
        except asyncio.IncompleteReadError as exc:
            raw = exc.partial
        except (OSError, TimeoutError, asyncio.LimitOverrunError) as exc:
            raise ScannerUnavailable(f"clamd at {self.address} did not answer: "
                                     f"{exc.__class__.__name__}") from exc
        if not raw:
            raise ScannerUnavailable(f"clamd at {self.address} closed the connection")
        return raw[:MAX_REPLY_BYTES].rstrip(b"\0").decode("utf-8", "replace").strip()

    async def _command(self, command: bytes) -> str:
        reader, writer = await self._connect()
        try:
            writer.write(command)
            await asyncio.wait_for(writer.drain(), self.timeout)
            return await self._reply(reader)
        except (OSError, TimeoutError) as exc:
            raise ScannerUnavailable(f"clamd at {self.address} failed: "
                                     f"{exc.__class__.__name__}") from exc
        finally:
            await _close(writer)

    async def version(self) -> str:
        return await self._command(b"zVERSION\0")

    async def ping(self) -> None:
        reply = await self._command(b"zPING\0")
        if reply != "PONG":
            raise ScannerUnavailable(f"clamd at {self.address} answered {reply!r} to PING")

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        reader, writer = await self._connect()
        try:
            try:
                writer.write(b"zINSTREAM\0")
                async for chunk in chunks:
                    for start in range(0, len(chunk), CHUNK_BYTES):
                        piece = chunk[start:start + CHUNK_BYTES]
                        writer.write(struct.pack(">I", len(piece)) + piece)
                        await asyncio.wait_for(writer.drain(), self.timeout)
                writer.write(struct.pack(">I", 0))
                await asyncio.wait_for(writer.drain(), self.timeout)
            except (ConnectionError, BrokenPipeError):
                # clamd stops reading a stream it refuses (over its size limit) and
                # says why before closing: read its answer rather than guess.
                pass
            except (OSError, TimeoutError) as exc:
                raise ScannerUnavailable(f"clamd at {self.address} failed: "
                                         f"{exc.__class__.__name__}") from exc
            reply = await self._reply(reader)
        finally:
            await _close(writer)
        return parse_reply(reply)


def parse_reply(reply: str) -> ScanResult:
    """clamd's answer to one INSTREAM: ``stream: OK``, ``stream: NAME FOUND``, or an error."""
    _, _, verdict = reply.partition(": ") if reply.startswith("stream:") else ("", "", reply)
    if verdict == "OK":
        return ScanResult(signature=None)
    if verdict.endswith(_FOUND):
        signature = verdict[:-len(_FOUND)].strip()
        return ScanResult(signature=signature[:255] or "unknown")
    if verdict.endswith(_ERROR):
        raise ScanRefused(verdict[:-len(_ERROR)].strip())
    raise ScanRefused(f"unexpected answer from clamd: {reply[:200]!r}")


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
