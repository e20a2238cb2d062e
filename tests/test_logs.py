"""Logs: one readable line per request at a terminal, JSON lines everywhere else.

A JSON line never carries uvicorn's ``color_message`` (its message again, with
terminal escape codes).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import pty
import re
import subprocess
import sys
import threading
import time

import httpx

from docgraph.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    formatter_for,
    wants_text,
)
from tests.instances import Instance, fresh_database


def uvicorn_record() -> logging.LogRecord:
    """A record as uvicorn logs it: with ``color_message``."""
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
                               "Started server process [%d]", (4242,), None)
    record.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    return record


def access_record(status: int = 200) -> logging.LogRecord:
    record = logging.LogRecord("docgraph.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update({"request_id": "req_0123", "method": "GET", "path": "/v1/workspace",
                            "status": status, "duration_ms": 3.14159, "workspace_id": None})
    return record


def test_a_json_line_never_carries_color_message():
    line = json.loads(JsonFormatter().format(uvicorn_record()))
    assert line["message"] == "Started server process [4242]"
    assert "color_message" not in line
    assert "\x1b" not in json.dumps(line)


def test_a_request_is_one_readable_line():
    line = TextFormatter().format(access_record())
    assert line.endswith("  GET /v1/workspace → 200  3.1 ms  req_0123")
    assert "\n" not in line and "\x1b" not in line
    assert "\x1b[33m404" in TextFormatter(colour=True).format(access_record(404))
    other = TextFormatter().format(uvicorn_record())
    assert other.endswith("INFO    uvicorn.error: Started server process [4242]")


def test_the_format_follows_the_stream_unless_told():
    controller, terminal = pty.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as tty:
            assert wants_text("auto", tty) and not wants_text("json", tty)
            assert isinstance(formatter_for("auto", tty), TextFormatter)
        pipe = io.StringIO()
        assert not wants_text("auto", pipe) and wants_text("text", pipe)
        assert isinstance(formatter_for("auto", pipe), JsonFormatter)
    finally:
        os.close(controller)
        os.close(terminal)


def test_records_go_to_the_stderr_of_the_moment(monkeypatch):
    """Not to the stream stderr was at set-up: whoever replaced it may have closed it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    first, second = io.StringIO(), io.StringIO()
    try:
        monkeypatch.setattr(sys, "stderr", first)
        configure_logging("info", "json")
        first.close()
        monkeypatch.setattr(sys, "stderr", second)
        logging.getLogger("docgraph.test").info("after the swap")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    assert json.loads(second.getvalue())["message"] == "after the swap"


def serve_env(database_url, tmp_path) -> dict[str, str]:
    return Instance(database_url, tmp_path, DOCGRAPH_LOG_LEVEL="info",
                    DOCGRAPH_ACCESS_LOG="true").env


def some_requests(url: str) -> None:
    assert httpx.get(f"{url}/v1/workspace").status_code == 401
    assert httpx.get(f"{url}/v1/workspace",
                     headers={"X-Request-ID": "req-from-the-test"}).status_code == 401


async def test_serve_logs_json_lines_when_not_at_a_terminal(cluster, tmp_path):
    url = await fresh_database(cluster, "logs_json")
    instance = Instance(url, tmp_path, DOCGRAPH_LOG_LEVEL="info",
                        DOCGRAPH_ACCESS_LOG="true").start()
    try:
        some_requests(instance.url)
    finally:
        instance.stop()
    lines = [json.loads(line) for line in instance.log_path.read_text().splitlines()]
    assert all("color_message" not in line for line in lines), lines
    messages = [line["message"] for line in lines]
    # uvicorn's own lines, which come with color_message, are among them.
    assert any(m.startswith("Started server process") for m in messages)
    assert any(m.startswith("Uvicorn running on") for m in messages)
    access = [line for line in lines if line["logger"] == "docgraph.access"]
    mine = [line for line in access if line["request_id"] == "req-from-the-test"]
    assert len(mine) == 1
    assert (mine[0]["method"], mine[0]["path"], mine[0]["status"]) == (
        "GET", "/v1/workspace", 401)


def drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        into += data


def serve_at_a_terminal(env: dict[str, str]) -> str:
    """``docgraph serve`` with a pseudo-terminal for stdin, stdout and stderr: what it
    wrote there while it answered :func:`some_requests`."""
    base = f"http://127.0.0.1:{env['DOCGRAPH_PORT']}"
    controller, terminal = pty.openpty()
    output = bytearray()
    reader = threading.Thread(target=drain, args=(controller, output), daemon=True)
    proc = subprocess.Popen([sys.executable, "-m", "docgraph", "serve"], env=env,
                            stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, output.decode(errors="replace")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, output.decode(errors="replace")
            time.sleep(0.05)
        some_requests(base)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
        os.close(controller)
    return output.decode()


async def test_serve_logs_readable_lines_at_a_terminal(cluster, tmp_path):
    url = await fresh_database(cluster, "logs_text")
    text = await asyncio.to_thread(serve_at_a_terminal, serve_env(url, tmp_path))
    lines = [line for line in text.split("\r\n") if line.strip()]
    assert not any(line.lstrip().startswith("{") for line in lines), text
    (request,) = [line for line in lines if "req-from-the-test" in line]
    # Coloured at a terminal; without its colours, the line the README shows.
    assert "\x1b[33m401" in request
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}  GET /v1/workspace → 401  \d+\.\d ms  "
                        r"req-from-the-test", re.sub(r"\x1b\[[0-9;]*m", "", request)), request
    assert any("uvicorn.error: Uvicorn running on" in line for line in lines), text
