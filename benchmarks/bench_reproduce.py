"""Published MNIST rows this project can train, each at this machine's budget: obtained against paper.

Rows: Burda et al. 2015 (Table 1; dynamically binarised MNIST, test NLL by IS at K = 5,000, 3,280
epochs on a GPU): the one- and two-layer VAE and IWAE at k = 5 and 50; Tomczak and Welling 2018
(dynamically binarised MNIST, IS at K = 5,000): the one-layer VAE and the two-layer hierarchy with
a VampPrior. Here each row trains the `mnist-nll-30min` recipe with its model for --minutes of
wall time (the cosine schedule over that time, training/budget.py; training binarises each batch
afresh, as the papers did), then `evaluate` with K = --iw-samples on the first --limit test
images, each binarised once from the seed 0 and its index. Every figure is printed with its time.

    .venv/bin/python benchmarks/bench_reproduce.py                     # 8 rows x 30 min + evaluation
    .venv/bin/python benchmarks/bench_reproduce.py --minutes 2 --iw-samples 100 --limit 500 --rows vae1
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from _common import MNIST_DIR, write_results
from bench_nll import evaluate, train_within

from vae_core.data import load_data
from vae_core.presets import load_preset

ONE_LAYER = {"family": "vae", "hidden": (200, 200), "latent_dim": 50}
# name -> (paper, the paper's test NLL, model changes to the preset's two-layer model)
ROWS = {
    "vae1": ("Burda et al. 2015, VAE, 1 layer", 86.76, ONE_LAYER),
    "iwae1-k5": ("Burda et al. 2015, IWAE k=5, 1 layer", 85.54, {**ONE_LAYER, "iw_samples": 5}),
    "iwae1-k50": ("Burda et al. 2015, IWAE k=50, 1 layer", 84.78, {**ONE_LAYER, "iw_samples": 50}),
    "vae2": ("Burda et al. 2015, VAE, 2 layers", 85.33, {}),
    "iwae2-k5": ("Burda et al. 2015, IWAE k=5, 2 layers", 83.89, {"iw_samples": 5}),
    "iwae2-k50": ("Burda et al. 2015, IWAE k=50, 2 layers", 82.90, {"iw_samples": 50}),
    "vamp1": (
        "Tomczak and Welling 2018, VAE + VampPrior, 1 layer",
        85.57,
        {**ONE_LAYER, "prior": "vamp", "prior_components": 500},
    ),
    "vamp2": (
        "Tomczak and Welling 2018, hierarchy + VampPrior, 2 layers",
        83.19,
        {"prior": "vamp", "prior_components": 500},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="training time per row")
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=None, help="test images (default: all)")
    parser.add_argument("--rows", nargs="+", choices=sorted(ROWS), default=list(ROWS))
    arguments = parser.parse_args()
    preset = load_preset("mnist-nll-30min").config
    preset = dataclasses.replace(
        preset, data=dataclasses.replace(preset.data, data_dir=str(MNIST_DIR))
    )
    data = load_data(preset.data)
    figures = {"minutes": arguments.minutes, "iw_samples": arguments.iw_samples, "rows": {}}
    for name in arguments.rows:
        paper, published, changes = ROWS[name]
        config = dataclasses.replace(preset, model=dataclasses.replace(preset.model, **changes))
        clock = time.monotonic()
        trainer, _ = train_within(config, data, arguments.minutes, name)
        results = evaluate(trainer, data, arguments.iw_samples, arguments.limit, name)
        obtained = -results["log_likelihood_is"]
        figures["rows"][name] = {
            "paper": paper,
            "published_nll": published,
            "obtained_nll": obtained,
            "obtained_se": results["log_likelihood_is_se"],
            "steps": trainer.step,
            "minutes": (time.monotonic() - clock) / 60,
        }
        print(
            f"[{name}] {paper}: obtained {obtained:.2f} ± {results['log_likelihood_is_se']:.2f} "
            f"against {published:.2f} (K = {arguments.iw_samples:,} here and 5,000 there; "
            f"{arguments.minutes:g} CPU-minutes here, 3,280 GPU epochs there)",
            flush=True,
        )
    write_results("bench_reproduce", figures)


if __name__ == "__main__":
    main()
