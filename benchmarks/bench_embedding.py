"""The cost of a t-SNE map of codes above 2-D (vae_core/latent_embedding.py): its import, and
maps of 500, 1,000 and 2,000 codes of a trained MNIST model's test set: a run folder's
(`--run`), or one trained here (MLP 400, latent 20, one epoch), or Gaussian clusters where MNIST
is absent. `--save-codes` writes the 2,000 codes for bench_umap.py, which times umap-learn on
the same codes in a scratch environment (umap-learn is not a dependency: see the README).

Run: .venv/bin/python benchmarks/bench_embedding.py [--run RUN_DIR] [--repeats 3]
         [--save-codes CODES.npy]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import MNIST_DIR, write_results

from vae_core.latent_embedding import tsne_map

SIZES = (500, 1000, 2000)


def import_seconds(module: str) -> float:
    """A fresh interpreter's import of `module`, less the interpreter's own start."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    )


def test_codes(count: int, run: str | None) -> tuple[np.ndarray, str]:
    if run is None and not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        rng = np.random.default_rng(0)
        centres = rng.normal(scale=4.0, size=(10, 20))
        return centres[rng.integers(0, 10, count)] + rng.normal(size=(count, 20)), "clusters"
    import torch

    from vae_core.data import load_data

    if run is None:
        model, config = _trained_here()
        source = "mnist test codes of an MLP 400, latent 20, one epoch"
    else:
        from vae_core.checkpoint import load_model

        model, checkpoint = load_model(Path(run) / "checkpoint.safetensors")
        config, source = checkpoint.config, f"test codes of {run}"
    images, _ = load_data(config.data).test.batch(torch.arange(count))
    with torch.no_grad():
        return model.embed(model.observe(images)).numpy(), source


def _trained_here():
    from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vae_core.data import load_data
    from vae_core.training.trainer import Trainer

    config = RunConfig(
        data=DataConfig(dataset="mnist", data_dir=str(MNIST_DIR)),
        model=ModelConfig(hidden=(400,), latent_dim=20),
        train=TrainConfig(epochs=1, batch_size=128),
    )
    trainer = Trainer(config, load_data(config.data))
    for _ in trainer.run():
        pass
    return trainer.model.eval(), trainer.config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--run", help="a run folder whose model encodes the test images")
    parser.add_argument("--save-codes", help="write the 2,000 codes here (.npy)")
    arguments = parser.parse_args()
    codes, source = test_codes(max(SIZES), arguments.run)
    if arguments.save_codes:
        np.save(arguments.save_codes, codes)
    figures = {
        "codes": f"{source}: {codes.shape}",
        "load_average": os.getloadavg(),
        "import_s": {"openTSNE": import_seconds("openTSNE")},
    }
    # Wall time on a shared machine, and the process's CPU time (what the map costs the cores).
    timings = {
        size: [_time(tsne_map, codes[:size]) for _ in range(arguments.repeats)] for size in SIZES
    }
    for name, column in (("tsne_s", 0), ("tsne_cpu_s", 1)):
        figures[name] = {
            size: statistics.median(times[column] for times in runs)
            for size, runs in timings.items()
        }
    for name, value in figures.items():
        print(f"{name}: {value}")
    write_results("embedding", figures)


def _time(function, codes) -> tuple[float, float]:
    """Wall and CPU seconds of `function(codes)`."""
    started, cpu = time.perf_counter(), time.process_time()
    function(codes)
    return time.perf_counter() - started, time.process_time() - cpu


if __name__ == "__main__":
    main()
