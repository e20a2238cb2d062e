"""npm packages the tests run with node, installed with ``npm ci`` into ``.cache/``.

A folder of ``tests/`` holds a ``package.json`` and its ``package-lock.json``;
:func:`npm_ci` installs them once per lockfile, into
``.cache/<name>/<hash of both files>/node_modules``, so a changed lockfile gets
a fresh install and an unchanged one is never installed again.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"
MANIFESTS = ("package.json", "package-lock.json")


def npm_ci(source: Path, name: str, *, installed: str) -> Path:
    """The folder whose ``node_modules`` holds ``source``'s locked packages.

    ``installed``: a package whose ``package.json`` shows the install is complete.
    Files of ``source`` other than the manifests (scripts) are copied beside it.
    """
    manifest = [(source / file).read_bytes() for file in MANIFESTS]
    cache = CACHE / name
    target = cache / hashlib.sha256(b"\0".join(manifest)).hexdigest()[:16]
    if not (target / "node_modules" / installed / "package.json").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache, prefix="install-"))
        for file in MANIFESTS:
            shutil.copy(source / file, staging / file)
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                              cwd=staging, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
        if target.exists():  # another run finished first
            shutil.rmtree(staging)
        else:
            staging.rename(target)
    for script in source.iterdir():
        if script.is_file() and script.name not in MANIFESTS:
            shutil.copy(script, target / script.name)
    return target
