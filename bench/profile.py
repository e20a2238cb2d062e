"""Where the workers' CPU goes during a measured run: py-spy samples, summed by layer.

``make bench BENCH_ARGS="--scenario graphql_contact_documents --py-spy"``
records every worker with ``py-spy record --nonblocking`` (the workers are
never paused, so the run's figures stand) for the measured window, then
prints the share of on-CPU samples of each layer of the server (by the
innermost frame that belongs to a known layer) and the hottest functions by
their own samples. The raw stacks stay in ``bench/results/`` for a flame
graph (``py-spy`` writes the collapsed-stack format ``flamegraph.pl`` and
speedscope read).
"""

from __future__ import annotations

import collections
import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

# A frame in py-spy's raw output: "function (path/to/file.py:line)".
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]+?)(?::(?P<line>\d+))?\)$")

# Layers by file path, most specific first; a sample counts for the innermost
# frame that matches one (so a dataloader's SQL counts as the driver's).
LAYERS: tuple[tuple[str, str], ...] = (
    ("SQL driver (asyncpg, docgraph/db)", r"(^|/)(asyncpg|docgraph/db)/"),
    ("JSON (orjson, json)", r"(^|/)(orjson|json)[/.]"),
    ("GraphQL execution (docgraph/schema/fast)", r"(^|/)docgraph/schema/fast/|^<compiled "),
    ("GraphQL library (graphql-core, strawberry)", r"(^|/)(graphql|strawberry)/"),
    ("GraphQL face (docgraph/schema)", r"(^|/)docgraph/schema/"),
    ("resolvers and loaders (docgraph/resolvers, aiodataloader)",
     r"(^|/)(docgraph/resolvers|aiodataloader)/"),
    ("REST face (docgraph/rest)", r"(^|/)docgraph/rest/"),
    ("pipeline (docgraph/http, starlette)",
     r"(^|/)(docgraph/http|starlette)/|(^|/)docgraph/app\.py"),
    ("HTTP server (uvicorn, httptools)", r"(^|/)(uvicorn|httptools|h11)/"),
    ("event loop (asyncio, uvloop)", r"(^|/)(asyncio|uvloop)/"),
)
OTHER = "other"


@dataclasses.dataclass
class Recording:
    """py-spy recording the given workers until ``finish``."""

    processes: list[subprocess.Popen[bytes]]
    outputs: list[Path]

    @classmethod
    def start(cls, pids: list[int], directory: Path, name: str, seconds: int) -> Recording:
        py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        directory.mkdir(parents=True, exist_ok=True)
        processes, outputs = [], []
        for pid in pids:
            output = directory / f"{name}-{pid}.stacks"
            outputs.append(output)
            processes.append(subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--duration", str(seconds),
                 "--rate", "250", "--nonblocking", "--format", "raw", "--output", str(output)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        return cls(processes, outputs)

    def finish(self) -> Profile:
        for process in self.processes:
            _, err = process.communicate(timeout=120)
            if process.returncode != 0:
                raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
        return Profile.read(self.outputs)


@dataclasses.dataclass
class Profile:
    samples: int
    by_layer: collections.Counter[str]
    by_function: collections.Counter[str]
    files: list[Path]

    @classmethod
    def read(cls, files: list[Path]) -> Profile:
        by_layer: collections.Counter[str] = collections.Counter()
        by_function: collections.Counter[str] = collections.Counter()
        total = 0
        for file in files:
            for line in file.read_text().splitlines():
                stack, _, count_text = line.rpartition(" ")
                if not stack or not count_text.isdigit():
                    continue
                count = int(count_text)
                frames = [m for f in stack.split(";") if (m := _FRAME.match(f))]
                if not frames:
                    continue
                total += count
                leaf = frames[-1]
                by_function[f"{leaf['function']} ({_short(leaf['file'])}:{leaf['line']})"] \
                    += count
                by_layer[layer_of([f["file"] for f in frames])] += count
        return cls(total, by_layer, by_function, files)

    def report(self, top: int = 20) -> str:
        if not self.samples:
            return "py-spy: no samples"
        lines = [f"py-spy: {self.samples:,} on-CPU samples of the workers "
                 f"(stacks: {', '.join(str(f) for f in self.files)})",
                 "share by layer (the innermost known frame):"]
        for name, count in self.by_layer.most_common():
            lines.append(f"  {count / self.samples:6.1%}  {name}")
        lines.append(f"hottest functions (own samples), top {top}:")
        for name, count in self.by_function.most_common(top):
            lines.append(f"  {count / self.samples:6.1%}  {name}")
        return "\n".join(lines)


def layer_of(files: list[str]) -> str:
    """The layer of a stack (outermost first): that of its innermost known frame."""
    for file in reversed(files):
        for name, pattern in LAYERS:
            if re.search(pattern, file):
                return name
    return OTHER


def _short(path: str) -> str:
    """A path from its package on (py-spy shortens most; not always)."""
    return path.rpartition("site-packages/")[2]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.profile STACKS...``: the report of recordings kept from a run."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=main.__doc__)
    parser.add_argument("stacks", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    print(Profile.read(args.stacks).report(args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
