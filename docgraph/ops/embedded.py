"""A private PostgreSQL cluster started from the machine's own binaries.

Used by ``make run``, the CLI and the test session when no
``DOCGRAPH_DATABASE_URL`` is given. The cluster listens on 127.0.0.1 only,
on a free port, with no Unix socket. PostgreSQL refuses to run as root, so
as root every server command runs as the ``postgres`` user, on a data
directory that user owns.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("docgraph.embedded")

SERVER_USER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                 check=True, timeout=10).stdout.strip()
            candidates.append(Path(out))
        except (subprocess.SubprocessError, OSError):
            pass
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    raise EmbeddedPostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the postgresql "
        "package, or set DOCGRAPH_DATABASE_URL to use an existing server."
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _reachable_by_others(path: Path) -> bool:
    """True when every existing ancestor of ``path`` can be traversed by other users."""
    for parent in [path, *path.parents]:
        if parent.exists():
            mode = parent.stat().st_mode
            if not mode & 0o001:
                return False
    return True


class EmbeddedPostgres:
    """Start, stop and connect to a cluster in ``data_dir``.

    ``ephemeral`` clusters (tests) trade durability for speed: fsync and
    synchronous commit are off.
    """

    def __init__(self, data_dir: Path, *, ephemeral: bool = False) -> None:
        self.requested_dir = Path(data_dir).resolve()
        self.ephemeral = ephemeral
        self.bindir = find_bindir()
        self.as_root = os.geteuid() == 0
        self.data_dir = self._choose_data_dir()
        self.port: int | None = None
        self._started_here = False

    # -- locations -------------------------------------------------------

    def _choose_data_dir(self) -> Path:
        if not self.as_root or _reachable_by_others(self.requested_dir.parent):
            return self.requested_dir
        # As root under a private home (mode 0700) the postgres user cannot reach
        # the project's directory: keep the cluster under the system temp
        # directory instead, named after the requested path so it is found again.
        digest = hashlib.sha256(str(self.requested_dir).encode()).hexdigest()[:16]
        fallback = Path(tempfile.gettempdir()) / f"docgraph-pg-{digest}"
        log.info("data directory %s is not reachable by %s; using %s",
                 self.requested_dir, SERVER_USER, fallback)
        return fallback

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def url(self, database: str = "postgres") -> str:
        if self.port is None:
            raise EmbeddedPostgresError("the cluster is not running")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    # -- commands --------------------------------------------------------

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0 and args[0] != "pg_ctl":
            raise EmbeddedPostgresError(
                f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout}"
            )
        return result

    def _chown(self, path: Path) -> None:
        if self.as_root:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.initialized:
            return
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.data_dir)
        log.info("initialising PostgreSQL cluster in %s", self.data_dir)
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")

    def running_port(self) -> int | None:
        """The port of a server already running on this data directory, if any."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        status = self._run("pg_ctl", "status", "-D", str(self.data_dir))
        if status.returncode != 0:
            return None
        lines = pid_file.read_text().splitlines()
        try:
            return int(lines[3])
        except (IndexError, ValueError):
            return None

    def start(self, port: int | None = None, options: Sequence[str] = ()) -> str:
        """Start the cluster (initialising it first if needed) and return its URL.

        ``options`` are extra server settings, e.g. ``-c shared_buffers=256MB``.
        """
        self.init()
        if self.running_port() is not None:
            # Left behind by a process that did not stop it (killed): take it over.
            log.info("stopping a PostgreSQL server left running on %s", self.data_dir)
            self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w")
        if not self.log_file.exists():
            self.log_file.touch()
            self._chown(self.log_file)
        self.port = port or free_port()
        server_options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
        ]
        if self.ephemeral:
            server_options += ["-c fsync=off", "-c synchronous_commit=off",
                               "-c full_page_writes=off"]
        server_options += options
        result = self._run("pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", "60",
                           "-l", str(self.log_file), "-o", " ".join(server_options))
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-2000:]
            raise EmbeddedPostgresError(f"PostgreSQL did not start: {result.stderr}\n{tail}")
        self._started_here = True
        log.info("PostgreSQL listening on 127.0.0.1:%s", self.port)
        return self.url()

    def attach_or_start(self) -> tuple[str, bool]:
        """Use a server already running on the data directory, or start one.

        Returns the URL and whether this call started the server (and so
        should stop it).
        """
        port = self.running_port() if self.initialized else None
        if port is not None:
            self.port = port
            return self.url(), False
        return self.start(), True

    def stop(self, mode: str = "fast") -> None:
        if not self.initialized:
            return
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w")
        self._started_here = False

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)
