"""The foundation's quality bar on real MNIST, through the command line a user runs.

`train --dataset mnist --arch mlp --hidden 400 --latent-dim 20 --epochs 10 --batch-size 128
--lr 1e-3`, then `evaluate --iw-samples 200`: the issue asks for test ELBO >= -104 nats and IS
log-likelihood >= -99 nats.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import MNIST_DIR, ROOT, write_results

ELBO_TARGET, LOG_LIKELIHOOD_TARGET = -104.0, -99.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--iw-samples", type=int, default=200)
    arguments = parser.parse_args()
    if not MNIST_DIR.is_dir():
        sys.exit(f"MNIST not found in {MNIST_DIR}")
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        command = [sys.executable, str(ROOT / "main.py")]
        start = time.perf_counter()
        subprocess.run(
            command
            + [
                "train",
                "--out",
                str(run_dir),
                "--dataset",
                "mnist",
                "--data-dir",
                str(MNIST_DIR),
                "--arch",
                "mlp",
                "--hidden",
                "400",
                "--latent-dim",
                "20",
                "--epochs",
                str(arguments.epochs),
                "--batch-size",
                "128",
                "--lr",
                "1e-3",
                "--seed",
                "0",
            ],
            check=True,
        )
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        result = subprocess.run(
            command + ["evaluate", str(run_dir), "--iw-samples", str(arguments.iw_samples)],
            check=True,
            capture_output=True,
            text=True,
        )
        evaluate_seconds = time.perf_counter() - start
    figures = json.loads(result.stdout)
    elbo, log_likelihood = figures["elbo"], figures["log_likelihood_is"]
    print(
        f"epochs {arguments.epochs}: trained in {train_seconds:.0f} s, evaluated in {evaluate_seconds:.0f} s"
    )
    print(
        f"test ELBO {elbo:.2f} nats (target >= {ELBO_TARGET}), "
        f"IS log-likelihood K={arguments.iw_samples} {log_likelihood:.2f} nats (target >= {LOG_LIKELIHOOD_TARGET}), "
        f"active units {figures['active_units']}/20"
    )
    write_results(
        "mnist_quality",
        {
            "epochs": arguments.epochs,
            "iw_samples": arguments.iw_samples,
            "train_seconds": train_seconds,
            "evaluate_seconds": evaluate_seconds,
            "elbo": elbo,
            "log_likelihood_is": log_likelihood,
            "active_units": figures["active_units"],
            "meets_targets": elbo >= ELBO_TARGET and log_likelihood >= LOG_LIKELIHOOD_TARGET,
        },
    )


if __name__ == "__main__":
    main()
