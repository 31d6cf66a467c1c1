"""Every model family on MNIST at one fixed budget: test ELBO, importance-sampled log-likelihood, time.

Trains each row for the same number of steps with the MLP, evaluates the first --limit test
images (IS with --iw-eval samples), prints a table, writes benchmarks/results/families.json
and saves VQ-VAE samples from its code prior and its reconstructions as PNGs in resources/readme/.

The published orderings it checks: an IWAE-trained model has a higher IS log-likelihood than the
same model trained on the ELBO (Burda et al., 2015), and the VampPrior beats N(0, I) (Tomczak and
Welling, 2018).

    .venv/bin/python benchmarks/bench_families.py [--data-dir DIR] [--steps S] [--limit N] [--iw-eval K]
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from _common import MNIST_DIR, ROOT, write_results

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.evaluation.estimates import evaluate_model
from vae_core.training.code_prior import fit_code_prior
from vae_core.training.trainer import Trainer

PICTURES = ROOT / "resources" / "readme"

# Row label -> (objective, the model's settings beyond the shared MLP).
ROWS = {
    "vae": ("ELBO", dict(family="vae", prior="normal")),
    "iwae": ("IWAE k=5", dict(family="vae", prior="normal", iw_samples=5)),
    "vamp": ("ELBO", dict(family="vae", prior="vamp", prior_components=100)),
    "mog": ("ELBO", dict(family="vae", prior="mog", prior_components=10)),
    "cvae": ("ELBO (of log p(x|y))", dict(family="cvae", prior="normal")),
    "vqvae": (
        "VQ",
        dict(family="vqvae", latent_dim=8, codebook_size=64, code_positions=16, codebook_ema=True),
    ),
}


def write_png(path: Path, pixels: np.ndarray) -> None:
    """An 8-bit grayscale PNG from a (H, W) array of floats in [0, 1]."""
    height, width = pixels.shape
    rows = (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    raw = b"".join(b"\x00" + rows[r].tobytes() for r in range(height))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def tile(images: torch.Tensor, columns: int, gap: int = 2, zoom: int = 2) -> np.ndarray:
    """Images (N, 1, H, W) in a grid with white gaps, rows of `columns`, each pixel zoom x zoom."""
    images = images.repeat_interleave(zoom, dim=-1).repeat_interleave(zoom, dim=-2)
    count, _, height, width = images.shape
    rows = -(-count // columns)
    canvas = np.ones((rows * (height + gap) + gap, columns * (width + gap) + gap))
    for index, image in enumerate(images[:, 0].cpu().numpy()):
        top, left = (
            gap + (index // columns) * (height + gap),
            gap + (index % columns) * (width + gap),
        )
        canvas[top : top + height, left : left + width] = image
    return canvas


def save_vq_pictures(model, test) -> list[str]:
    PICTURES.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        samples = model.sample(64, generator=torch.Generator().manual_seed(0))
        originals, _ = test.batch(torch.arange(16))
        observed = model.observe(originals, torch.Generator().manual_seed(0))
        reconstructions = model.decode_indices(model.code_indices(observed))
    paths = [PICTURES / "vq_samples.png", PICTURES / "vq_reconstructions.png"]
    write_png(paths[0], tile(samples, 8))
    # Top row: the binarised test images; bottom row: their reconstructions from 16 codes each.
    write_png(paths[1], tile(torch.cat([observed, reconstructions]), 16))
    return [str(path.relative_to(ROOT)) for path in paths]


def run_row(name: str, data, arguments) -> dict:
    objective, settings = ROWS[name]
    model_settings = dict(
        hidden=(arguments.hidden,), latent_dim=arguments.latent_dim, likelihood="bernoulli"
    )
    model_settings.update(settings)
    config = RunConfig(
        data=DataConfig(dataset="mnist", data_dir=arguments.data_dir),
        model=ModelConfig(**model_settings),
        train=TrainConfig(
            batch_size=128, max_steps=arguments.steps, log_every=500, seed=0, device="cpu"
        ),
    )
    trainer = Trainer(config, data)
    for snapshot in trainer.run():
        print(
            f"  {name} step {snapshot.step:>6,}  loss {snapshot.loss:8.2f}  {snapshot.images_per_s:8,.0f} img/s",
            file=sys.stderr,
        )
    model = trainer.model
    is_vq = model_settings["family"] == "vqvae"
    row = {
        "model": model_settings["family"],
        "prior": f"code prior ({config.model.code_prior})" if is_vq else model_settings["prior"],
        "objective": objective,
        "train_s": round(trainer.wall_time_s, 1),
    }
    start = time.perf_counter()
    if is_vq:
        row["code_prior_fit_nll"] = round(
            fit_code_prior(model, data.train, steps=arguments.prior_steps), 2
        )
        results = evaluate_model(model, data.test, iw_samples=1, limit=arguments.limit)
        row.update(
            {
                key: round(results[key], 3)
                for key in ("perplexity", "codebook_usage", "code_prior_nll")
            }
        )
        row["codebook_size"] = results["codebook_size"]
        row["bound_with_code_prior"] = round(-(results["recon"] + results["code_prior_nll"]), 2)
        row["pictures"] = save_vq_pictures(model, data.test)
    else:
        results = evaluate_model(
            model, data.test, iw_samples=arguments.iw_eval, limit=arguments.limit
        )
        row["log_likelihood_is"] = round(results["log_likelihood_is"], 2)
    row["evaluate_s"] = round(time.perf_counter() - start, 1)
    row["test_elbo"] = round(results["elbo"], 2)
    row["active_units"] = results["active_units"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=str(MNIST_DIR), help="folder with the four MNIST .gz files"
    )
    parser.add_argument(
        "--steps", type=int, default=5000, help="training steps of batch 128 for every row"
    )
    parser.add_argument("--hidden", type=int, default=300)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--limit", type=int, default=1000, help="test images evaluated")
    parser.add_argument(
        "--iw-eval", type=int, default=500, help="importance samples per test image"
    )
    parser.add_argument(
        "--prior-steps",
        type=int,
        default=1000,
        help="steps fitting the VQ-VAE code prior after training",
    )
    parser.add_argument("--rows", default=",".join(ROWS), help=f"a subset of {','.join(ROWS)}")
    # One thread by default: on cores shared with other work, a second thread mostly waits for it.
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)

    data = load_data(DataConfig(dataset="mnist", data_dir=arguments.data_dir))
    rows = [run_row(name, data, arguments) for name in arguments.rows.split(",")]

    print(
        f"\nMNIST, MLP {arguments.hidden} hidden, latent {arguments.latent_dim}, {arguments.steps:,} steps of 128;"
        f" test: first {arguments.limit:,} images, IS with K = {arguments.iw_eval}"
    )
    print(
        f"| {'model':6} | {'prior':28} | {'objective':20} | {'test ELBO':>9} | {'IS log-lik':>10} | {'train s':>7} | {'eval s':>6} |"
    )
    print(f"|{'-' * 8}|{'-' * 30}|{'-' * 22}|{'-' * 11}|{'-' * 12}|{'-' * 9}|{'-' * 8}|")
    for row in rows:
        likelihood = (
            f"{row['log_likelihood_is']:10.2f}" if "log_likelihood_is" in row else f"{'n/a':>10}"
        )
        print(
            f"| {row['model']:6} | {row['prior']:28} | {row['objective']:20} | {row['test_elbo']:9.2f} | {likelihood} |"
            f" {row['train_s']:7.1f} | {row['evaluate_s']:6.1f} |"
        )
    by_label = dict(zip(arguments.rows.split(","), rows))
    checks = {}
    if {"vae", "iwae"} <= by_label.keys():
        checks["iwae_beats_elbo_on_is_log_likelihood"] = (
            by_label["iwae"]["log_likelihood_is"] > by_label["vae"]["log_likelihood_is"]
        )
    if {"vae", "vamp"} <= by_label.keys():
        checks["vamp_beats_normal_on_is_log_likelihood"] = (
            by_label["vamp"]["log_likelihood_is"] > by_label["vae"]["log_likelihood_is"]
        )
    if "vqvae" in by_label:
        vq = by_label["vqvae"]
        checks["vq_perplexity_above_half_the_codebook"] = vq["perplexity"] > vq["codebook_size"] / 2
        print(
            f"VQ-VAE: perplexity {vq['perplexity']:.1f} of {vq['codebook_size']} codes, usage {vq['codebook_usage']:.0%},"
            f" code prior NLL {vq['code_prior_nll']:.1f} nats, bound with the code prior {vq['bound_with_code_prior']:.1f};"
            f" pictures: {', '.join(vq['pictures'])}"
        )
    for name, passed in checks.items():
        print(f"{name}: {'yes' if passed else 'NO'}")

    write_results("families", {"settings": vars(arguments), "rows": rows, "checks": checks})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
