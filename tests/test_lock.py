"""The lock file: pyproject.toml, uv.lock, requirements/*.txt and the installed packages agree.

``make install`` (and so ``make test``, CI and ``make run``) and the Dockerfile
install requirements/*.txt, which ``make lock`` exports from uv.lock. These
checks need no network: uv reads the lock and pyproject.toml only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
EXPORT = ["export", "--frozen", "--no-emit-project", "--group", "build"]
EXPORTS = {"runtime.txt": EXPORT, "dev.txt": [*EXPORT, "--extra", "dev"]}


def uv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([UV, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"UV_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                               "UV_CACHE_DIR": str(ROOT / ".cache" / "uv")})


def without_header(text: str) -> list[str]:
    """The requirements, without the comment naming the command that wrote them."""
    lines = text.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return lines


def test_the_lock_matches_pyproject():
    done = uv("lock", "--check")
    assert done.returncode == 0, (
        f"uv.lock is out of date with pyproject.toml: run `make lock`\n{done.stderr}")


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_the_requirements_files_are_the_lock_exported(name):
    done = uv(*EXPORTS[name])
    assert done.returncode == 0, done.stderr
    committed = (ROOT / "requirements" / name).read_text()
    assert without_header(committed) == without_header(done.stdout), (
        f"requirements/{name} is not uv.lock's export: run `make lock`")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions() -> dict[str, str]:
    """Each locked package that applies to this interpreter, and its version."""
    text = (ROOT / "requirements" / "dev.txt").read_text()
    locked = {}
    for line in re.findall(r"^[A-Za-z0-9].*?(?= \\$|$)", text, re.M):
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            (pin,) = requirement.specifier
            locked[canonical(requirement.name)] = pin.version
    return locked


def test_every_requirement_is_locked_with_hashes():
    text = (ROOT / "requirements" / "dev.txt").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", "\n".join(without_header(text)))
    assert entries and all("--hash=sha256:" in entry for entry in entries)
    locked = locked_versions()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for line in declared:
        requirement = Requirement(line)
        name = canonical(requirement.name)
        assert name in locked, f"{requirement.name} is not in the lock: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{requirement.name} {locked[name]} is locked but pyproject.toml asks for "
            f"{requirement.specifier}")


def test_this_environment_runs_the_locked_versions():
    """What the tests run on is what the lock says (a stale .venv shows here)."""
    drift = {}
    for name, version in locked_versions().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            drift[name] = (version, None)
            continue
        if installed != version:
            drift[name] = (version, installed)
    assert drift == {}, f"locked vs installed (run `make install`): {drift}"


def test_the_internals_bounds_are_there():
    """The packages whose internals docgraph uses have an upper bound (see pyproject.toml)."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounded = {Requirement(d).name for d in dependencies
               if any(s.operator in ("<", "<=", "~=", "==") for s in Requirement(d).specifier)}
    assert {"strawberry-graphql", "graphql-core", "uvicorn"} <= bounded
