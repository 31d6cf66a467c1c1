"""best.safetensors: the checkpoint of the best held-out ELBO, checked against the held-out
examples themselves."""

from __future__ import annotations

import csv
import dataclasses
import math

import pytest

from vae_core.checkpoint import load_checkpoint, load_model
from vae_core.cli import main
from vae_core.data import load_data
from vae_core.evaluation.estimates import total_elbo
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.training.best import BestKeeper
from vae_core.training.heldout import hold_out
from vae_core.training.trainer import Trainer, metrics_row

HELDOUT = METRICS_COLUMNS.index("heldout_elbo")


def test_best_holds_the_weights_whose_heldout_elbo_was_the_best(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_size = 40\n")
    out = tmp_path / "run"
    flags = [
        "--hidden",
        "16",
        "--batch-size",
        "50",
        "--log-every",
        "5",
        "--max-steps",
        "40",
        "--heldout-every",
        "5",
        "--lr",
        "3e-3",
    ]
    assert main(["train", "--out", str(out), "--config", str(config), *flags]) == 0
    with (out / "metrics.csv").open() as handle:
        measured = [
            float(row["heldout_elbo"]) for row in csv.DictReader(handle) if row["heldout_elbo"]
        ]
    model, best = load_model(out / "best.safetensors")
    # Its weights, measured anew on the held-out examples, give the best figure of the run.
    heldout = hold_out(load_data(best.config.data).train, best.config)[1]
    again = total_elbo(model, heldout, seed=best.config.train.seed) / len(heldout)
    assert again == pytest.approx(max(measured), abs=1e-3)
    assert max(measured) > measured[0]  # it improved, so best is not the first evaluation's
    assert best.history[-1, HELDOUT] == pytest.approx(max(measured), abs=1e-4)


def test_an_improvement_inside_the_interval_is_written_when_the_run_ends(
    small_config, small_glyphs, tmp_path
):
    config = dataclasses.replace(
        small_config,
        train=dataclasses.replace(
            small_config.train, max_steps=30, heldout_every=10, heldout_size=50
        ),
    )
    trainer = Trainer(config, small_glyphs)
    keeper = BestKeeper(tmp_path, [], min_interval_s=3600)
    history, figures = [], []
    for snapshot in trainer.run(include_weights=True):
        history.append(metrics_row(snapshot))
        figures.append(snapshot.heldout_elbo)
        keeper.offer(snapshot, trainer, history)
        if len(figures) == 1:
            first = load_checkpoint(tmp_path / "best.safetensors")
            assert int(first.counters["step"]) == 10  # the first improvement is written at once
    assert figures[2] > figures[0]
    keeper.flush(trainer)
    best = load_checkpoint(tmp_path / "best.safetensors")
    assert best.history[-1, HELDOUT] == pytest.approx(max(figures)) and best.counters == {}


def test_a_resumed_run_only_replaces_best_with_a_better_one(tmp_path):
    history = [(10, 0, 1, 1, 1, 1, 1, 1, 1e-3, -90.0), (20, 0, 1, 1, 1, 1, 1, 1, 1e-3, math.nan)]
    assert BestKeeper(tmp_path, history).best == -90.0
    assert BestKeeper(tmp_path, []).best == -math.inf
