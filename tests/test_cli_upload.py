"""``docgraph upload``, run as a user runs it (a subprocess) against a live server.

It goes through the public API only: what it made is then read back through
the API — the document, its link, its bytes.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import uuid
from pathlib import Path

import httpx
import pytest

from docgraph.ops.embedded import free_port
from docgraph.resolvers import auth, workspaces
from tests.instances import serving
from tests.rest import CONTACT_DOCUMENT_FIELDS, DOCUMENT_RECORD_FIELDS, LINK_FIELDS, png


def cli_env(tmp_path: Path, key: str | None) -> dict[str, str]:
    """The environment of a user's shell: no DOCGRAPH_* but the key (and an empty data
    directory, so that no development key is found instead)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")}
    env["DOCGRAPH_DATA_DIR"] = str(tmp_path / "no-data")
    if key is not None:
        env["DOCGRAPH_API_KEY"] = key
    return env


def run_upload(url: str, key: str | None, tmp_path: Path, *args: str | Path,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docgraph", "upload", "--url", url, *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**cli_env(tmp_path, key), **(env or {})})


async def upload(url: str, key: str | None, tmp_path: Path, *args: str | Path,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # In a thread: the live server of this session runs in this process.
    return await asyncio.to_thread(run_upload, url, key, tmp_path, *args, env=env)


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    """The error: stderr's last line, and its only one that is an error (any before it
    are progress)."""
    lines = r.stderr.splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert errors == lines[-1:] and lines[-1].startswith("docgraph"), r.stderr
    assert "Traceback" not in r.stderr
    return lines[-1]


async def document_count(db, tenant) -> int:
    return await db.fetchval("select count(*) from documents where workspace_id = $1",
                             tenant.id)


async def test_upload_records_links_and_keeps_the_bytes(server, api, tenant, tmp_path):
    contact = await api.create_contact("Upload Ada")
    report = tmp_path / "Acme NDA 2026.pdf"
    report.write_bytes(b"%PDF-1.4\n" + os.urandom(300_000))
    photo = tmp_path / "signature.png"
    photo.write_bytes(png(40, 30))

    r = await upload(server.url, tenant.key, tmp_path, report, photo,
                     "--link", f"contact:{contact['id']}:signed", "--folder", "/clients/acme",
                     "--tags", "nda,2026", "--tags", "signed", "--json")
    assert r.returncode == 0, r.stderr
    documents = json.loads(r.stdout)
    assert [d["name"] for d in documents] == [report.name, photo.name]
    for document, path, mime_type in zip(documents, (report, photo),
                                         ("application/pdf", "image/png"), strict=True):
        assert set(document) == DOCUMENT_RECORD_FIELDS | {"file", "links"}
        assert document["file"] == str(path)
        assert document["mime_type"] == mime_type
        assert document["size_bytes"] == path.stat().st_size
        assert document["folder"] == "/clients/acme"
        assert document["tags"] == ["nda", "2026", "signed"]
        (link,) = document["links"]
        assert set(link) == LINK_FIELDS
        assert (link["entity_type"], link["entity_id"], link["role"]) == (
            "contact", contact["id"], "signed")

        # What the API says now: the record, and the bytes behind its download URL.
        stored = (await api.ok("GET", f"/v1/documents/{document['id']}"))["data"]
        assert stored == {k: v for k, v in document.items() if k not in ("file", "links")}
        url = (await api.ok("GET", f"/v1/documents/{document['id']}/download-url")
               )["data"]["url"]
        async with httpx.AsyncClient() as plain:
            download = await plain.get(url)
        assert download.status_code == 200 and download.content == path.read_bytes()

    listed = (await api.ok("GET", f"/v1/contacts/{contact['id']}/documents?role=signed")
              )["data"]["documents"]
    assert {d["id"] for d in listed} == {d["id"] for d in documents}
    assert all(set(d) == CONTACT_DOCUMENT_FIELDS for d in listed)
    # Not a terminal: progress in plain lines on stderr, nothing of it on stdout.
    assert f"uploading {report.name} (293.0 KiB)" in r.stderr
    assert f"{photo.name}: 100%" in r.stderr and "\r" not in r.stderr


async def test_without_json_each_document_is_one_line(server, api, tenant, tmp_path):
    company = await api.create_business("Upload Corp")
    note = tmp_path / "minutes.txt"
    note.write_text("minutes of the meeting\n")
    r = await upload(server.url, tenant.key, tmp_path, note, "--quiet",
                     "--link", f"business:{company['id']}:board")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # --quiet
    (line,) = r.stdout.splitlines()
    document_id, name, *rest = line.split("  ")
    assert name == "minutes.txt" and rest == [
        "23 B", f"linked to company:{company['id']} (board)"]
    links = (await api.ok("GET", f"/v1/documents/{document_id}/links"))["data"]["links"]
    assert [(x["entity_type"], x["role"]) for x in links] == [("company", "board")]


def read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            return out
        if not data:
            return out
        out += data


def upload_at_a_terminal(command: list[str], env: dict[str, str], cwd: Path,
                         size: tuple[int, int] | None) -> str:
    """Run ``command`` with a pseudo-terminal (of ``size`` rows and columns, or a bare
    one) for stdin, stdout and stderr; what it wrote there."""
    controller, terminal = pty.openpty()
    if size is not None:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    try:
        proc = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal,
                                cwd=cwd, env=env)
        os.close(terminal)
        output = read_all(controller).decode()
        assert proc.wait(60) == 0, output
        return output
    finally:
        os.close(controller)


@pytest.mark.parametrize("size", [None, (30, 100)], ids=["bare-pty", "100-columns"])
async def test_a_progress_bar_at_a_terminal(server, api, tenant, tmp_path, size):
    contact = await api.create_contact("Pty Ada")
    big = tmp_path / "scan.tiff"
    # A TIFF header: bare random bytes are, about once in a hundred, something else to
    # libmagic (an MS-DOS executable, zlib, MPEG audio), which the upload rightly refuses.
    big.write_bytes(b"II*\x00" + os.urandom((3 << 20) - 4))
    output = await asyncio.to_thread(
        upload_at_a_terminal,
        [sys.executable, "-m", "docgraph", "upload", "--url", server.url, str(big),
         "--link", f"contact:{contact['id']}"], cli_env(tmp_path, tenant.key), tmp_path, size)
    # A bar redrawn in place (carriage returns), full at the end, then the document.
    assert output.count("\r") >= 2, output
    bar = output.split("\r\n")[0]
    assert "scan.tiff:   0%|" in bar and "scan.tiff: 100%|" in bar and "3.00M/3.00M" in bar
    if size is not None:
        assert all(len(drawn) <= 100 for drawn in bar.split("\r"))
    document_line = output.split("\r\n")[1]
    document_id = document_line.split()[0]
    stored = (await api.ok("GET", f"/v1/documents/{document_id}"))["data"]
    assert stored["name"] == "scan.tiff" and stored["size_bytes"] == 3 << 20
    assert f"linked to contact:{contact['id']}" in document_line


async def test_bad_input_exits_with_its_status_in_one_line(server, api, other_api, tenant,
                                                          db, tmp_path):
    contact = await api.create_contact("Ada")
    theirs = await other_api.create_contact("Not yours")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    (tmp_path / "folder").mkdir()
    before = await document_count(db, tenant)
    link = f"contact:{contact['id']}"
    cases = [
        # 1: the command line itself; nothing is sent.
        (1, tenant.key, ["missing.pdf"], "missing.pdf: no such file"),
        (1, tenant.key, ["folder"], "folder: not a regular file"),
        (1, tenant.key, [note, "--link", "contact"], "expected TYPE:ID[:ROLE]"),
        (1, tenant.key, [note, "--link", "person:" + contact["id"]], "TYPE one of contact"),
        (1, tenant.key, [note, "--link", "contact:42"], "'42' is not a UUID"),
        (1, tenant.key, [note, "--link", link + ":"], "a role has 1 to 64 characters"),
        (1, tenant.key, [note, "--link", link + ":" + "r" * 65], "1 to 64 characters"),
        (1, None, [note], "DOCGRAPH_API_KEY is not set"),
        (1, "wbk_ key", [note], "characters an HTTP header cannot carry"),
        (1, "wbk_clé", [note], "characters an HTTP header cannot carry"),
        (1, tenant.key, [note, "--url", "ftp://example.com"], "not an http(s) URL"),
        (1, tenant.key, [], "the following arguments are required: FILE"),
        (1, tenant.key, [note, "--timeout", "-1"], "expected seconds"),
        (1, tenant.key, [note, "--timeout", "nan"], "expected seconds"),
        # 2: the service refused.
        (2, "wbk_" + "A" * 43, [note], "invalid_key"),
        (2, "not-a-key", [note], "invalid_key"),
        (2, tenant.read_key, [note], "insufficient_permissions"),
        (2, tenant.key, [note, "--link", f"contact:{theirs['id']}"],
         f"not_found: no contact {theirs['id']} in this workspace"),
        (2, tenant.key, [note, "--link", f"deal:{contact['id']}"],
         "no deal", ),
        (2, tenant.key, [note, "--link", link, "--tags", "x" * 200], "validation_error"),
        (2, tenant.key, [note, "--mime-type", "not a type"], "validation_error"),
    ]
    for status, key, args, says in cases:
        r = await upload(server.url, key, tmp_path, *args)
        assert r.returncode == status, (args, r.stderr)
        assert says in one_line_error(r), (args, r.stderr)
        assert r.stdout == ""
    # 3: nothing answers there.
    r = await upload(f"http://127.0.0.1:{free_port()}", tenant.key, tmp_path, note)
    assert r.returncode == 3 and "cannot reach http://127.0.0.1:" in one_line_error(r)
    # Nothing refused left a document behind (the long tag was refused when recording,
    # after the bytes went up: those are swept as an orphan upload).
    assert await document_count(db, tenant) == before


async def test_json_tells_what_was_done_before_a_failure(server, api, tenant, db, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("hello")
    # Refused before anything was recorded: an empty list.
    r = await upload(server.url, tenant.key, tmp_path, note, "--json",
                     "--link", f"contact:{uuid.uuid4()}")
    assert r.returncode == 2 and json.loads(r.stdout) == []
    # A write-only key cannot look the contact up beforehand: the document is recorded,
    # then its link is refused. stdout says which document exists.
    missing = uuid.uuid4()
    r = await upload(server.url, tenant.write_key, tmp_path, note, "--json",
                     "--link", f"contact:{missing}")
    assert r.returncode == 2
    (document,) = json.loads(r.stdout)
    assert document["name"] == "note.txt" and document["links"] == []
    error = one_line_error(r)
    assert "not_found" in error and f"document {document['id']} was recorded" in error
    assert await db.fetchval("select count(*) from documents where id = $1",
                             uuid.UUID(document["id"])) == 1


async def test_the_development_key_serves_a_service_on_this_machine(server, api, tenant,
                                                                   tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "dev-api-key").write_text(tenant.key + "\n")
    note = tmp_path / "dev.txt"
    note.write_text("dev")
    r = await upload(server.url, None, tmp_path, note, "--json",
                     env={"DOCGRAPH_DATA_DIR": str(data_dir)})
    assert r.returncode == 0, r.stderr
    (document,) = json.loads(r.stdout)
    assert (await api.ok("GET", f"/v1/documents/{document['id']}"))["data"]["name"] == "dev.txt"


async def test_a_rate_limited_request_is_sent_again_after_retry_after(
        tmp_root, database_url, db, tmp_path):
    workspace = (await workspaces.create_workspace(db, "Limited"))["id"]
    # One request per 2-second window: each call after the first waits for the next window.
    key, _ = await auth.create_key(db, workspace, auth.SCOPES, rate_limit=1)
    note = tmp_path / "limited.txt"
    note.write_text("slowly")
    with serving(tmp_root, database_url, rate_limit_window_seconds=2) as live:
        r = await upload(live.url, key, tmp_path, note, "--json")
    assert r.returncode == 0, r.stderr
    assert "429 rate_limited; sending it again in" in r.stderr
    (document,) = json.loads(r.stdout)
    # The retried POST carried the same Idempotency-Key: one document, not two.
    assert await db.fetchval("select count(*) from documents where workspace_id = $1",
                             workspace) == 1
    assert document["name"] == "limited.txt"
