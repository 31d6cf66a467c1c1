"""Runs every benchmark in turn (about 25 minutes on 2 cores); each prints its figures and
writes benchmarks/results/NAME.json. Pass names to run some: run_all.py core window."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "core",
    "optimizer_start",
    "data",
    "window",
    "explorer",
    "mnist_quality",
    "families",
    "ddp",
    "embedding",
    "lesson_code",
)


def main(names: list[str]) -> int:
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / f"bench_{name}.py")]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
