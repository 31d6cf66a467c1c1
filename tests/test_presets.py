"""Presets: every one loads, validates and builds its model; flags beside --preset override it;
bad presets and bad choices end in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vae_core import presets
from vae_core.choices import check_choice
from vae_core.cli import main
from vae_core.errors import VaeStudioError
from vae_core.models import build_model
from vae_core.training.schedules import BETA_SCHEDULES, LR_SCHEDULES

REQUIRED = {"mnist-nll-30min", "mnist-quick", "sprites-disentangle", "glyphs-demo"}
SOURCE_PRESETS = Path(__file__).resolve().parents[1] / "resources" / "presets"


def test_the_source_tree_holds_the_presets_the_listing_finds():
    assert presets.preset_folders()[0] == SOURCE_PRESETS
    found, problems = presets.read_presets()
    assert REQUIRED <= set(found) == {path.stem for path in SOURCE_PRESETS.glob("*.toml")}
    assert problems == []


@pytest.mark.parametrize("name", sorted(path.stem for path in SOURCE_PRESETS.glob("*.toml")))
def test_every_preset_loads_validates_and_builds_its_model(name):
    preset = presets.load_preset(name)
    assert preset.name == name and preset.description and "\n" not in preset.description
    config = preset.config
    check_choice("beta schedule", config.train.beta_schedule, BETA_SCHEDULES)
    check_choice("learning-rate schedule", config.train.lr_schedule, LR_SCHEDULES)
    model_config = config.model
    build_model(
        type(model_config)(
            **{**model_config.__dict__, "input_shape": (1, 28, 28), "num_classes": 10}
        )
    )
    assert type(config).from_json(config.to_json()) == config


def test_flags_beside_a_preset_override_it(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--preset",
                "glyphs-demo",
                "--out",
                str(run),
                "--max-steps",
                "3",
                "--latent-dim",
                "3",
                "--device",
                "cpu",
                "--lr-schedule",
                "cosine",
            ]
        )
        == 0
    )
    saved = json.loads((run / "config.json").read_text())
    preset = presets.load_preset("glyphs-demo").config
    assert (
        saved["model"]["latent_dim"] == 3
        and saved["train"]["max_steps"] == 3
        and saved["train"]["lr_schedule"] == "cosine"
    )
    assert (
        saved["model"]["hidden"] == list(preset.model.hidden)
        and saved["data"]["dataset"] == preset.data.dataset
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--preset", "mnist-slow"],
            "vae-studio: error: unknown preset 'mnist-slow' (choose from glyphs-demo,",
        ),
        (
            ["--preset", "glyphs-demo", "--resume"],
            "vae-studio: error: --resume continues with the checkpoint's own config",
        ),
    ],
)
def test_a_bad_preset_choice_ends_in_one_line(tmp_path, capsys, arguments, message):
    assert main(["train", "--out", str(tmp_path / "run"), *arguments]) == 1
    error = capsys.readouterr().err
    assert error.startswith(message) and error.count("\n") == 1


def test_preset_and_config_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path), "--preset", "glyphs-demo", "--config", "x.toml"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\nlatent_dim = 2\n", "needs a one-line `description` string"),
        ('description = "x"\n[model]\nlatent = 2\n', "unknown config key 'model.latent'"),
        ('description = "x\n', "cannot be read"),
    ],
)
def test_a_broken_preset_file_is_named_in_one_line(tmp_path, monkeypatch, text, message):
    (tmp_path / "broken.toml").write_text(text)
    monkeypatch.setattr(presets, "preset_folders", lambda: [tmp_path])
    with pytest.raises(VaeStudioError, match=message) as caught:
        presets.load_preset("broken")
    assert str(caught.value).startswith(f"preset {tmp_path / 'broken.toml'}: ") and "\n" not in str(
        caught.value
    )
