"""The held-out curve: examples of the training split that are never trained on, their ELBO logged
every few steps, in snapshots, metrics.csv and checkpoints (old ones without it still load)."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vae_core.checkpoint import load_checkpoint, save_trainer
from vae_core.checkpoint_validation import HISTORY_NAME
from vae_core.cli import main
from vae_core.config import RunConfig
from vae_core.data import DataSplit, ImageDataset
from vae_core.evaluation.estimates import evaluate_model
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.training.heldout import hold_out
from vae_core.training.trainer import Trainer

OLD_COLUMNS = METRICS_COLUMNS[: METRICS_COLUMNS.index("heldout_elbo")]


def _with_train(config, **changes):
    return dataclasses.replace(config, train=dataclasses.replace(config.train, **changes))


def _numbered(count: int) -> ImageDataset:
    """Vectors whose one value is their index: which examples went where can be read off them."""
    values = torch.arange(count, dtype=torch.float32).reshape(count, 1, 1, 1)
    return ImageDataset("numbered", values, torch.zeros(count, dtype=torch.int64), ("all",))


def _indices(data: ImageDataset) -> set[int]:
    return {int(value) for value in data.images.flatten()}


def test_the_heldout_part_is_a_fixed_tenth_of_the_training_split_at_most_and_disjoint():
    train = _numbered(5000)
    config = _with_train(RunConfig(), heldout_every=100, heldout_size=1000)
    kept, heldout = hold_out(train, config)
    assert (len(kept), len(heldout)) == (4500, 500)  # capped at a tenth of 5,000
    assert _indices(kept).isdisjoint(_indices(heldout)) and _indices(kept) | _indices(
        heldout
    ) == set(range(5000))
    _, same = hold_out(train, _with_train(config, seed=7))  # the training seed does not move it
    assert _indices(same) == _indices(heldout)
    other_data_seed = dataclasses.replace(config, data=dataclasses.replace(config.data, seed=1))
    assert _indices(hold_out(train, other_data_seed)[1]) != _indices(heldout)
    assert len(hold_out(train, _with_train(config, heldout_size=30))[1]) == 30
    assert hold_out(train, _with_train(config, heldout_every=0)) == (train, None)


def test_the_trainer_never_trains_on_the_heldout_examples(small_config):
    data = DataSplit(train=_numbered(400), test=_numbered(10))
    config = dataclasses.replace(
        small_config, model=dataclasses.replace(small_config.model, likelihood="gaussian")
    )
    trainer = Trainer(_with_train(config, heldout_every=10, heldout_size=25), data)
    assert len(trainer.heldout) == 25 and len(trainer.data) == 375
    assert _indices(trainer.data).isdisjoint(_indices(trainer.heldout))


def test_snapshots_carry_the_heldout_elbo_where_it_was_evaluated(small_config, small_glyphs):
    config = _with_train(
        small_config, max_steps=50, log_every=10, heldout_every=20, heldout_size=50
    )
    trainer = Trainer(config, small_glyphs)
    snapshots = list(trainer.run())
    evaluated = [s.step for s in snapshots if s.heldout_elbo is not None]
    assert evaluated == [20, 40, 50]  # every 20 steps, and where the run ends
    # The same figure as `evaluate` gives on those examples (log p convention: negative).
    expected = evaluate_model(trainer.model, trainer.heldout, seed=config.train.seed)["elbo"]
    assert snapshots[-1].heldout_elbo == pytest.approx(expected, rel=1e-6)  # float32 sums there
    assert snapshots[-1].heldout_elbo < 0


def test_metrics_csv_has_the_heldout_column_empty_where_not_evaluated(tmp_path):
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
        "30",
        "--heldout-every",
        "10",
    ]
    assert main(["train", "--out", str(out), "--config", str(config), *flags]) == 0
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["step"] for row in rows if row["heldout_elbo"]] == ["10", "20", "30"]
    assert all(float(row["heldout_elbo"]) < 0 for row in rows if row["heldout_elbo"])
    history = load_checkpoint(out / "checkpoint.safetensors").history
    column = history[:, METRICS_COLUMNS.index("heldout_elbo")]
    assert math.isnan(column[0]) and column[1] == pytest.approx(
        float(rows[1]["heldout_elbo"]), abs=1e-4
    )


def _as_old_checkpoint(path, history_rows) -> None:
    """Rewrite a checkpoint as a version without the held-out column wrote it."""
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    tensors[HISTORY_NAME] = torch.tensor(history_rows, dtype=torch.float64)
    metadata["history_columns"] = json.dumps(OLD_COLUMNS)
    save_file(tensors, str(path), metadata=metadata)


def test_an_old_checkpoint_without_the_column_loads_with_it_empty(
    small_config, small_glyphs, tmp_path
):
    trainer = Trainer(small_config, small_glyphs)
    path = tmp_path / "old.safetensors"
    save_trainer(path, trainer)
    old_row = [10, 0, 1.5, 900.0, 150.0, 140.0, 10.0, 1.0, 1e-3]
    _as_old_checkpoint(path, [old_row])
    history = load_checkpoint(path).history
    assert history[0, :-1].tolist() == old_row and math.isnan(history[0, -1])


def test_a_run_begun_before_heldout_curves_resumes_on_all_its_examples(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_every = 0\n")
    out = tmp_path / "run"
    flags = ["--hidden", "16", "--batch-size", "50", "--log-every", "5"]
    assert (
        main(["train", "--out", str(out), "--config", str(config), *flags, "--max-steps", "10"])
        == 0
    )
    # As an older version left the folder: a config without held-out keys, a narrower metrics.csv.
    checkpoint_path = out / "checkpoint.safetensors"
    checkpoint = load_checkpoint(checkpoint_path)
    assert checkpoint.config.train.heldout_every == 0
    old_config = checkpoint.config.to_dict()
    del old_config["train"]["heldout_every"], old_config["train"]["heldout_size"]
    with safe_open(str(checkpoint_path), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    metadata["config"] = json.dumps(old_config)
    save_file(tensors, str(checkpoint_path), metadata=metadata)
    metrics = out / "metrics.csv"
    with metrics.open(newline="") as handle:
        old_rows = [row[: len(OLD_COLUMNS)] for row in csv.reader(handle)]
    with metrics.open("w", newline="") as handle:
        csv.writer(handle).writerows(old_rows)

    assert main(["train", "--out", str(out), "--resume", *flags, "--max-steps", "20"]) == 0
    with metrics.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == METRICS_COLUMNS and all(
        len(row) == len(METRICS_COLUMNS) for row in rows
    )
    assert rows[-1][0] == "20" and rows[1][-1] == ""
