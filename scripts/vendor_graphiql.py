#!/usr/bin/env python3
"""Re-fetch GraphiQL's assets from the npm registry into docgraph/static/graphiql/.

Usage: .venv/bin/python scripts/vendor_graphiql.py

Runs ``npm pack`` (npm's own client) for each package of
``docgraph.schema.graphiql.ASSETS``, takes the needed file out of the tarball,
checks it against the asset's integrity hash and writes it where docgraph
serves it from. To move to new versions, change ASSETS (versions and
hashes), run this, and commit the result.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from docgraph.schema.graphiql import ASSETS, ASSETS_DIR

LICENSE_FILES = {"package/license", "package/license.md", "package/license.txt"}


def sri_sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def main() -> int:
    packages = sorted({(a.package, a.version) for a in ASSETS})
    with tempfile.TemporaryDirectory() as tmp:
        tarballs = {}
        for package, version in packages:
            out = subprocess.run(
                ["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", tmp],
                check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
            tarballs[(package, version)] = Path(tmp) / out
        for asset in ASSETS:
            with tarfile.open(tarballs[(asset.package, asset.version)]) as tar:
                member = tar.extractfile(f"package/{asset.path}")
                if member is None:
                    raise SystemExit(f"{asset.package}@{asset.version} has no {asset.path}")
                data = member.read()
            if sri_sha384(data) != asset.integrity:
                raise SystemExit(f"{asset.local_path}: integrity mismatch "
                                 f"({sri_sha384(data)} != {asset.integrity})")
            target = ASSETS_DIR / asset.local_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"{asset.local_path}  {len(data)} bytes  {asset.integrity}")
        notice = ["Third-party files served with GraphiQL, unmodified from their npm packages.",
                  ""]
        for (package, version), tarball in tarballs.items():
            with tarfile.open(tarball) as tar:
                package_json = tar.extractfile("package/package.json")
                assert package_json is not None
                meta = json.load(package_json)
                for name in tar.getnames():
                    if name.lower() in LICENSE_FILES:
                        member = tar.extractfile(name)
                        assert member is not None
                        target = ASSETS_DIR / f"{package}@{version}" / "LICENSE"
                        target.write_bytes(member.read())
            notice.append(f"- {package}@{version}: {meta.get('license')} license, "
                          f"{meta.get('homepage') or _repository(meta)}")
        (ASSETS_DIR / "NOTICE.md").write_text("\n".join(notice) + "\n")
    return 0


def _repository(meta: dict) -> str:
    repo = meta.get("repository")
    return repo.get("url", "") if isinstance(repo, dict) else str(repo or "")


if __name__ == "__main__":
    sys.exit(main())
