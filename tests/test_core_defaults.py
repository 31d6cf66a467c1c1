"""Each built-in data set's default run learns codes that carry information (no collapse), and the
command line starts from the same defaults as the window."""

from __future__ import annotations

import json

import pytest
import torch
from test_core_cli import _run

from vae_core.data import load_data
from vae_core.data.points import POINT_CLOUDS
from vae_core.defaults import defaults_for
from vae_core.evaluation.estimates import evaluate_model
from vae_core.training.trainer import Trainer


@pytest.mark.parametrize("dataset", list(POINT_CLOUDS))
def test_the_default_run_on_each_point_cloud_keeps_its_codes_active(dataset):
    torch.set_num_threads(1)
    config = defaults_for(dataset)
    split = load_data(config.data)
    trainer = Trainer(config, split)
    for _ in trainer.run():
        pass
    figures = evaluate_model(trainer.model.eval(), split.test, limit=500)
    assert figures["active_units"] >= 1 and figures["kl"] > 0.5


def test_the_command_line_starts_a_point_cloud_from_its_defaults(tmp_path):
    result = _run("train", "--out", tmp_path / "run", "--dataset", "moons", "--max-steps", 3)
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    expected = defaults_for("moons").model
    assert (saved["model"]["likelihood"], saved["model"]["arch"]) == (
        expected.likelihood,
        expected.arch,
    )
