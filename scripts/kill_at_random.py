"""Kill headless runs with SIGKILL at random moments; every kill after the first save must leave a
checkpoint that `evaluate` loads and `--resume` continues, and after the resume metrics.csv must be
the history the checkpoint carries: the same steps in order, none twice, the same figures.

Each trial starts `main.py train` on small built-in data with checkpoints every 0.3 s, kills it
3 to 8 s later, then runs `evaluate` on the folder, resumes it for 10 more steps and reads
metrics.csv against the checkpoint. Prints one line per trial and the tally.

    .venv/bin/python scripts/kill_at_random.py [--trials 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from vae_core.checkpoint import load_checkpoint  # noqa: E402
from vae_core.errors import VaeStudioError  # noqa: E402
from vae_core.run_record import read_metrics  # noqa: E402

TRAIN = [
    "--dataset",
    "glyphs",
    "--hidden",
    "32",
    "--latent-dim",
    "2",
    "--batch-size",
    "50",
    "--log-every",
    "5",
    "--max-steps",
    "1000000",
    "--save-every",
    "0.005",
]


def _main_py(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, arguments)],
        capture_output=True,
        text=True,
    )


def trial(folder: Path, config: Path, kill_after_s: float) -> str:
    run = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "train",
            "--out",
            str(folder),
            "--config",
            str(config),
            *TRAIN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after_s)
    run.kill()
    run.wait()
    path = folder / "checkpoint.safetensors"
    if not path.exists():
        return "killed before the first save"
    try:
        step = int(load_checkpoint(path).counters["step"])
    except VaeStudioError as error:
        return f"FAILED: the checkpoint does not load: {error}"
    evaluated = _main_py("evaluate", folder, "--limit", 20)
    if evaluated.returncode != 0:
        return f"FAILED: evaluate: {evaluated.stderr.strip()}"
    resumed = _main_py("train", "--out", folder, "--resume", "--max-steps", step + 10)
    if resumed.returncode != 0:
        return f"FAILED: --resume: {resumed.stderr.strip()}"
    resumed_checkpoint = load_checkpoint(path)
    if int(resumed_checkpoint.counters["step"]) != step + 10:
        return "FAILED: --resume did not continue from the saved step"
    mismatch = _metrics_mismatch(folder / "metrics.csv", resumed_checkpoint.history)
    if mismatch:
        return f"FAILED: metrics.csv {mismatch}"
    rows = len(resumed_checkpoint.history)
    return f"ok: saved at step {step:,}, evaluated, resumed to {step + 10:,}, metrics.csv = its {rows} rows"


def _metrics_mismatch(path: Path, history) -> str:
    """What is wrong with metrics.csv against the checkpoint's history ("" if nothing)."""
    rows = read_metrics(path)
    steps = [int(step) for step in rows[:, 0]]
    if len(set(steps)) != len(steps):
        doubled = sorted({step for step in steps if steps.count(step) > 1})
        return f"holds steps twice ({', '.join(map(str, doubled[:5]))})"
    if steps != sorted(steps):
        return "holds rows out of order"
    if history is None or rows.shape != history.shape:
        return f"holds {len(rows)} rows, the checkpoint's history {0 if history is None else len(history)}"
    # metrics.csv writes eight significant figures of the history's float64 values.
    if not np.allclose(rows, history, rtol=1e-7, atol=1e-9, equal_nan=True):
        return "differs from the checkpoint's history"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    moments = random.Random(arguments.seed)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "small.toml"
        config.write_text("[data]\nsize = 600\n")
        for number in range(arguments.trials):
            kill_after_s = moments.uniform(
                3.0, 8.0
            )  # a fresh process takes about 3 s to start training
            result = trial(Path(scratch) / f"run{number}", config, kill_after_s)
            results.append(result)
            print(f"trial {number + 1}: killed after {kill_after_s:.2f} s: {result}", flush=True)
    saved = [result for result in results if not result.startswith("killed before")]
    failed = [result for result in saved if result.startswith("FAILED")]
    print(
        f"{len(saved)} of {len(results)} kills came after a save; {len(saved) - len(failed)} of those loaded, "
        f"evaluated and resumed with metrics.csv equal to the checkpoint's history"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
