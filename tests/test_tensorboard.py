"""`train --tensorboard` read back with TensorBoard's own EventAccumulator: the scalars, the image
grids at each held-out evaluation, the hyperparameters, the projector's files, and `evaluate`'s
figures added to the same run."""

from __future__ import annotations

import sys

import pytest

from vae_core.cli import main

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

SMALL = ["--dataset", "glyphs", "--hidden", "16", "--batch-size", "50", "--log-every", "5"]


def _events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    config = root / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_every = 10\nheldout_size = 50\n")
    out = root / "run"
    command = ["train", "--out", str(out), "--config", str(config), *SMALL, "--tensorboard"]
    assert main([*command, "--max-steps", "20"]) == 0
    return out


def test_the_scalars_images_hyperparameters_and_projector_are_written(run):
    events = _events(run / "tensorboard")
    scalars = events.Tags()["scalars"]
    for tag in ("train/loss", "train/recon", "train/kl", "train/beta", "train/learning_rate"):
        assert tag in scalars
        assert [event.step for event in events.Scalars(tag)] == [5, 10, 15, 20]
    assert [event.step for event in events.Scalars("heldout/elbo")] == [10, 20]
    assert {"train/images_per_s", "kl_per_dim/0", "kl_per_dim/1", "heldout/active_units"} <= set(
        scalars
    )
    images = events.Tags()["images"]
    assert "reconstructions" in images and "samples" in images
    assert [event.step for event in events.Images("samples")] == [10, 20]
    hparams = events.SummaryMetadata("_hparams_/session_start_info")
    assert hparams.plugin_data.plugin_name == "hparams"
    assert "final/loss" in scalars
    projector = run / "tensorboard" / "projector_config.pbtxt"
    assert projector.exists() and "test_codes" in projector.read_text()
    (embedding,) = (run / "tensorboard").glob("*/test_codes/tensors.tsv")
    assert len(embedding.read_text().splitlines()) == 100  # the 600 glyphs' test split


def test_evaluate_adds_its_figures_to_the_run(run, capsys):
    assert main(["evaluate", str(run), "--limit", "20"]) == 0
    scalars = _events(run / "tensorboard").Tags()["scalars"]
    assert {"evaluate/test/elbo", "evaluate/test/active_units"} <= set(scalars)


def test_without_the_package_the_run_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *SMALL, "--max-steps", "5", "--tensorboard"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("vae-studio: error: --tensorboard needs the tensorboard package")
