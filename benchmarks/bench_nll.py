"""Test NLL on MNIST within a time budget, and the training step's speed against the machine's limit.

1. The machine's float32 matmul ceiling: GFLOP/s of a large square matmul on all of torch's threads.
2. The `mnist-nll-30min` preset trained for --minutes of wall time as `main.py train` trains it
   (its epochs only a cap, the cosine schedule paced by the time to the deadline), then evaluated
   with K = --iw-samples importance samples on the first --limit test images (all 10,000 by default;
   training binarises dynamically, the test set is binarised once with a fixed seed). Prints the
   NLL, its standard error, the minutes trained and the epochs reached.
3. The one-layer model (Burda et al.'s 784-200-200-50, same recipe) against the two-layer one at
   one fixed budget of --compare-epochs each (0 skips it; epochs, not minutes, so that a shared
   machine's changing speed does not favour either): IS log-likelihood of each, and its time.
4. For both models eagerly, and the two-layer one compiled as the preset runs it, the training
   step's achieved GFLOP/s, counted from the shapes that pass through every dense layer in one step (forward, and backward for weights and inputs), as a
   share of the ceiling.

    .venv/bin/python benchmarks/bench_nll.py                      # the full run: about 2 hours
    .venv/bin/python benchmarks/bench_nll.py --minutes 3 --iw-samples 100 --limit 1000 --compare-epochs 2
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import math
import sys
import threading
import time

import torch
from _common import MNIST_DIR, write_results
from torch import nn

from vae_core.config import RunConfig
from vae_core.data import load_data
from vae_core.evaluation.estimates import evaluate_model
from vae_core.presets import load_preset
from vae_core.terminal import EvaluationBar
from vae_core.training.budget import TimeBudget
from vae_core.training.trainer import Trainer

PRESET = "mnist-nll-30min"
# Burda et al.'s one-stochastic-layer model: the two-layer model's first block, z of 50.
ONE_LAYER = {"family": "vae", "hidden": (200, 200), "latent_dim": 50}
CALIBRATION_STEPS = 200


def matmul_ceiling(size: int = 2048, seconds: float = 3.0) -> float:
    """GFLOP/s of float32 (size x size) @ (size x size), repeated for about `seconds`."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # the first call pays for the library's setup
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        repeats += 1
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def step_flops(trainer: Trainer) -> float:
    """Floating-point operations of one training step in the dense layers, from the shapes that pass
    through them: 2·rows·in·out forward, as much again for the weight gradient, and as much again
    for the input gradient where the input needs one (not the data)."""
    counted = []

    def count(layer: nn.Linear, inputs, output) -> None:
        rows = inputs[0].numel() // layer.in_features
        passes = 3 if inputs[0].requires_grad else 2
        counted.append(passes * 2 * rows * layer.in_features * layer.out_features)

    hooks = [
        module.register_forward_hook(count)
        for module in trainer.model.modules()
        if isinstance(module, nn.Linear)
    ]
    try:
        images, labels = trainer.data.batch(torch.arange(trainer.config.train.batch_size))
        trainer.model.loss(
            trainer.model.observe(images, trainer.generator), labels, generator=trainer.generator
        )
    finally:
        for hook in hooks:
            hook.remove()
    return float(sum(counted))


def steps_per_second(config: RunConfig, data, steps: int = CALIBRATION_STEPS) -> float:
    """The step rate of a throwaway run, after a few warm-up steps."""
    trainer = Trainer(
        dataclasses.replace(
            config, train=dataclasses.replace(config.train, max_steps=10 + steps, log_every=10)
        ),
        data,
    )
    run = trainer.run()
    next(run)
    start = time.perf_counter()
    for _ in run:
        pass
    return steps / (time.perf_counter() - start)


def train_within(config: RunConfig, data, minutes: float, label: str) -> tuple[Trainer, dict]:
    """Train for `minutes` as `main.py train` does: the steps are only a cap, the cosine schedule
    paced by the time to the deadline (training/budget.py), a stop at the deadline."""
    # The preset's KL warm-up is counted in steps for its 30 minutes: a shorter budget warms up
    # over the same share of its time (a 2-minute run would otherwise end with β still rising).
    share = min(1.0, minutes / load_preset(PRESET).config.train.max_minutes)
    warmup = round(config.train.beta_warmup_steps * share)
    config = dataclasses.replace(
        config, train=dataclasses.replace(config.train, beta_warmup_steps=warmup)
    )
    deadline = time.monotonic() + 60 * minutes
    print(
        f"[{label}] training until {minutes:g} min are up (KL warm-up {warmup:,} steps)", flush=True
    )
    return train(config, data, label, deadline=deadline)


def train(
    config: RunConfig, data, label: str, deadline: float | None = None
) -> tuple[Trainer, dict]:
    """Train to the config's budget, or until `deadline` (a time.monotonic() value)."""
    started = time.monotonic()
    trainer = Trainer(config, data)
    timer = None
    if deadline is not None:
        trainer.time_budget = TimeBudget(deadline)
        timer = threading.Timer(max(0.0, deadline - started), trainer.stop)
        timer.start()
    try:
        last = collections.deque(trainer.run(), maxlen=1)  # none if stopped before one
    finally:
        if timer is not None:
            timer.cancel()
    epochs = trainer.step / trainer.steps_per_epoch
    loss, rate = (last[0].loss, last[0].learning_rate) if last else (math.nan, math.nan)
    figures = {
        "train_minutes": trainer.wall_time_s / 60,
        "command_minutes": (time.monotonic() - started) / 60,
        "steps": trainer.step,
        "epochs": epochs,
        "steps_per_s": trainer.step / max(trainer.wall_time_s, 1e-9),
        "final_train_loss": loss,
        "final_learning_rate": rate,
    }
    print(
        f"[{label}] trained {trainer.step:,} steps, {epochs:.1f} epochs in {figures['train_minutes']:.1f} min "
        f"of training ({figures['command_minutes']:.1f} min with set-up and compile); last training loss "
        f"{loss:.2f}, last learning rate {rate:.2g}",
        flush=True,
    )
    return trainer, figures


def evaluate(trainer: Trainer, data, iw_samples: int, limit: int | None, label: str) -> dict:
    bar = EvaluationBar(f"[{label}] K = {iw_samples:,}")
    # The weights' moving average where the run keeps one: what `evaluate` loads.
    weights = (
        contextlib.nullcontext() if trainer.ema is None else trainer.ema.swapped_in(trainer.model)
    )
    try:
        with weights:
            results = evaluate_model(
                trainer.model, data.test, iw_samples=iw_samples, limit=limit, progress=bar
            )
    finally:
        bar.close()
    print(
        f"[{label}] test ELBO {results['elbo']:.2f} ± {results['elbo_se']:.2f}, IS log-likelihood "
        f"(K = {iw_samples:,}, {results['examples']:,} images) {results['log_likelihood_is']:.2f} ± "
        f"{results['log_likelihood_is_se']:.2f} nats; active units {results.get('active_units_per_layer', results['active_units'])}; "
        f"evaluated in {results['seconds'] / 60:.1f} min",
        flush=True,
    )
    keys = (
        "examples",
        "elbo",
        "elbo_se",
        "log_likelihood_is",
        "log_likelihood_is_se",
        "active_units",
        "active_units_per_layer",
        "seconds",
    )
    return {key: results[key] for key in keys if key in results}


def speed(trainer: Trainer, rate: float, ceiling: float, label: str) -> dict:
    flops = step_flops(trainer)
    achieved = flops * rate / 1e9
    print(
        f"[{label}] {flops / 1e6:.1f} MFLOP a step x {rate:.1f} steps/s = {achieved:.1f} GFLOP/s, "
        f"{achieved / ceiling:.0%} of the {ceiling:.1f} GFLOP/s ceiling",
        flush=True,
    )
    return {
        "mflop_per_step": flops / 1e6,
        "gflop_per_s": achieved,
        "share_of_ceiling": achieved / ceiling,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=30.0,
        help="training budget of the preset's model (0: skip)",
    )
    parser.add_argument("--iw-samples", type=int, default=5000)
    parser.add_argument(
        "--limit", type=int, default=None, help="evaluate the first N test images (default all)"
    )
    parser.add_argument(
        "--compare-epochs",
        type=int,
        default=50,
        help="budget of each model in the one- vs two-layer comparison (0: skip)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch's threads (default: the preset's, else a thread a core)",
    )
    arguments = parser.parse_args()
    if arguments.threads is not None:
        torch.set_num_threads(arguments.threads)
    if not MNIST_DIR.is_dir():
        sys.exit(f"MNIST not found in {MNIST_DIR}")
    started = time.perf_counter()
    preset = load_preset(PRESET)
    config = dataclasses.replace(
        preset.config, data=dataclasses.replace(preset.config.data, data_dir=str(MNIST_DIR))
    )
    if arguments.threads is None and config.train.threads is not None:  # what `main.py train` does
        torch.set_num_threads(config.train.threads)
    data = load_data(config.data)
    one_layer = dataclasses.replace(config, model=dataclasses.replace(config.model, **ONE_LAYER))
    figures: dict = {
        "preset": PRESET,
        "config": config.to_dict(),
        "iw_samples": arguments.iw_samples,
        "limit": arguments.limit,
        "threads": torch.get_num_threads(),
    }

    clock = time.perf_counter()
    ceiling = matmul_ceiling()
    print(
        f"float32 matmul ceiling: {ceiling:.1f} GFLOP/s on {torch.get_num_threads()} threads "
        f"(measured in {time.perf_counter() - clock:.0f} s)",
        flush=True,
    )
    figures["matmul_ceiling_gflop_per_s"] = ceiling

    eager_two_layer = dataclasses.replace(
        config, train=dataclasses.replace(config.train, compile=False)
    )
    eager_one_layer = dataclasses.replace(
        one_layer, train=dataclasses.replace(one_layer.train, compile=False)
    )
    for label, model_config in (
        ("one-layer eager", eager_one_layer),
        ("two-layer eager", eager_two_layer),
        ("two-layer compiled", config),
    ):
        clock = time.perf_counter()
        rate = steps_per_second(model_config, data)
        probe = Trainer(model_config, data)
        figures[f"speed_{label}"] = {"steps_per_s": rate, **speed(probe, rate, ceiling, label)}
        print(f"[{label}] speed measured in {time.perf_counter() - clock:.0f} s", flush=True)

    if arguments.minutes > 0:
        trainer, trained = train_within(config, data, arguments.minutes, PRESET)
        figures["nll_run"] = {
            **trained,
            **evaluate(trainer, data, arguments.iw_samples, arguments.limit, PRESET),
        }
        figures["nll_run"]["test_nll"] = -figures["nll_run"]["log_likelihood_is"]
        print(
            f"[{PRESET}] test NLL {figures['nll_run']['test_nll']:.2f} ± {figures['nll_run']['log_likelihood_is_se']:.2f} "
            f"nats after {trained['train_minutes']:.1f} min and {trained['epochs']:.1f} epochs",
            flush=True,
        )

    if arguments.compare_epochs > 0:
        for label, model_config in (("one-layer", one_layer), ("two-layer", config)):
            budget = dataclasses.replace(
                model_config.train, epochs=arguments.compare_epochs, max_steps=None
            )
            trainer, trained = train(dataclasses.replace(model_config, train=budget), data, label)
            figures[f"compare_{label}"] = {
                **trained,
                **evaluate(trainer, data, arguments.iw_samples, arguments.limit, label),
            }
        one, two = (
            figures[f"compare_{label}"]["log_likelihood_is"] for label in ("one-layer", "two-layer")
        )
        figures["compare_epochs"] = arguments.compare_epochs
        figures["two_layer_beats_one_layer"] = two > one
        print(
            f"at {arguments.compare_epochs} epochs each: one-layer {one:.2f}, two-layer {two:.2f} nats "
            f"({'two-layer ahead' if two > one else 'one-layer ahead'})",
            flush=True,
        )
    figures["total_minutes"] = (time.perf_counter() - started) / 60
    print(f"total {figures['total_minutes']:.1f} min")
    write_results("nll", figures)


if __name__ == "__main__":
    main()
