"""A real ClamAV ``clamd`` for tests, with a signature database written here.

No signature database can be downloaded on these machines (no freshclam), and
none is needed: clamd starts with a directory holding only our own files,

* ``docgraph-test.hdb``: the EICAR test file by MD5 and size
  (``MD5:SIZE:Name``), so it is reported ``Docgraph.Test.EICAR.UNOFFICIAL``;
* ``docgraph-test.ndb``: a body signature (``Name:TargetType:Offset:Hex``)
  matching ``MARKER`` anywhere in any file, reported
  ``Docgraph.Test.Marker.UNOFFICIAL`` (a PDF carrying it is "malware").

It listens on a Unix socket in its own directory and runs in the foreground
as a child of the test process; with that tiny database it starts in a
second or two. The README's *Virus scanning* section shows the same set-up
for trying scanning offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Docgraph.Test.EICAR.UNOFFICIAL"
MARKER = b"DOCGRAPH-TEST-MALWARE-MARKER-6f1d"
MARKER_SIGNATURE = "Docgraph.Test.Marker.UNOFFICIAL"
STREAM_MAX_BYTES = 2 * 1024 * 1024


def available() -> bool:
    return Path(CLAMD).exists()


def write_database(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "docgraph-test.hdb").write_text(
        f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:Docgraph.Test.EICAR\n")  # noqa: S324
    (directory / "docgraph-test.ndb").write_text(
        f"Docgraph.Test.Marker:0:*:{MARKER.hex()}\n")


class Clamd:
    """One clamd on a Unix socket under ``root``; start and stop it at will."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        self.socket = root / "clamd.sock"
        self.config = root / "clamd.conf"
        self.log = root / "clamd.log"
        write_database(root / "db")
        self.config.write_text("\n".join([
            f"DatabaseDirectory {root / 'db'}",
            f"LocalSocket {self.socket}",
            "Foreground yes",
            f"LogFile {self.log}",
            "LogTime yes",
            # Nothing here but our own signatures: no official databases to check for.
            "SelfCheck 0",
            # Small, so that a test can send more than clamd takes (it refuses the rest).
            f"StreamMaxLength {STREAM_MAX_BYTES}",
            "",
        ]))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return str(self.socket)

    def start(self, timeout: float = 60) -> Clamd:
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [CLAMD, "-c", str(self.config)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
                self.stop()
                raise RuntimeError(f"clamd did not start:\n{log}")
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(str(self.socket))
                s.sendall(b"zPING\0")
                return s.recv(16).startswith(b"PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None
        self.socket.unlink(missing_ok=True)


@contextlib.contextmanager
def running(root: Path) -> Iterator[Clamd]:
    clamd = Clamd(root).start()
    try:
        yield clamd
    finally:
        clamd.stop()
