"""umap-learn's cost on the codes bench_embedding.py saved, beside openTSNE's: its import, its
first map of the codes (numba compiles then) and the median of the next ones.

umap-learn is not a dependency of VAE Studio (the README says why), so this runs in a scratch
environment outside the project, with numpy and umap-learn only:

    python -m venv /tmp/umapvenv && /tmp/umapvenv/bin/pip install umap-learn
    .venv/bin/python benchmarks/bench_embedding.py --save-codes /tmp/codes.npy
    /tmp/umapvenv/bin/python benchmarks/bench_umap.py /tmp/codes.npy [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def import_seconds(module: str) -> float:
    """A fresh interpreter's import of `module`, less the interpreter's own start."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("codes", help="an .npy file of codes (N, D)")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    codes = np.load(arguments.codes)
    figures = {"codes": list(codes.shape), "load_average": os.getloadavg()}
    figures["import_s"] = import_seconds("umap")
    import umap

    def seconds() -> tuple[float, float]:
        """Wall and CPU seconds of one map."""
        started, cpu = time.perf_counter(), time.process_time()
        # One thread, as the window's t-SNE runs: the cores are training's.
        umap.UMAP(random_state=0, n_jobs=1).fit_transform(codes)
        return time.perf_counter() - started, time.process_time() - cpu

    figures["first_map_s"], figures["first_map_cpu_s"] = seconds()
    later = [seconds() for _ in range(arguments.repeats)]
    figures["map_s"] = statistics.median(wall for wall, _ in later)
    figures["map_cpu_s"] = statistics.median(cpu for _, cpu in later)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
