"""The cost of a t-SNE map of codes above 2-D (vae_core/latent_embedding.py): its import, and
maps of 500, 1,000 and 2,000 codes of a trained 20-D MNIST model's test set (the model of
bench_core: MLP 400, latent 20, one epoch), or of Gaussian clusters where MNIST is absent.
umap-learn is timed beside it when installed (it is not a dependency: see the module's note).

Run: .venv/bin/python benchmarks/bench_embedding.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time

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


def test_codes(count: int) -> tuple[np.ndarray, str]:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        rng = np.random.default_rng(0)
        centres = rng.normal(scale=4.0, size=(10, 20))
        return centres[rng.integers(0, 10, count)] + rng.normal(size=(count, 20)), "clusters"
    import torch

    from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vae_core.data import load_data
    from vae_core.training.trainer import Trainer

    config = RunConfig(
        data=DataConfig(dataset="mnist", data_dir=str(MNIST_DIR)),
        model=ModelConfig(hidden=(400,), latent_dim=20),
        train=TrainConfig(epochs=1, batch_size=128),
    )
    split = load_data(config.data)
    trainer = Trainer(config, split)
    for _ in trainer.run():
        pass
    images, _ = split.test.batch(torch.arange(count))
    with torch.no_grad():
        return trainer.model.embed(trainer.model.observe(images)).numpy(), "mnist test codes"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    codes, source = test_codes(max(SIZES))
    figures = {"codes": source, "import_s": {"openTSNE": import_seconds("openTSNE")}}
    figures["tsne_s"] = {
        size: statistics.median(_time(tsne_map, codes[:size]) for _ in range(arguments.repeats))
        for size in SIZES
    }
    if importlib.util.find_spec("umap") is not None:
        import umap

        figures["import_s"]["umap"] = import_seconds("umap")
        figures["umap_s"] = {
            size: statistics.median(
                _time(lambda c: umap.UMAP().fit_transform(c), codes[:size])
                for _ in range(arguments.repeats)
            )
            for size in SIZES
        }
    for name, value in figures.items():
        print(f"{name}: {value}")
    write_results("embedding", figures)


def _time(function, codes) -> float:
    started = time.perf_counter()
    function(codes)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
