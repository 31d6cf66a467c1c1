"""Checkpoints, configs and flags with values past what JSON, torch or the system takes end in one
line (issue 24): deep or huge JSON in a checkpoint, a history of a million columns or of infinite
values, a generator state too short, numbers too large for a tensor size, a thread count or a
timer, and names that are empty or misspelt."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from vae_core.checkpoint import load_checkpoint, save_trainer
from vae_core.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.errors import VaeStudioError
from vae_core.metrics_columns import METRICS_COLUMNS
from vae_core.training.trainer import Trainer


@pytest.fixture(scope="module")
def checkpoint_parts(tmp_path_factory):
    """The tensors and metadata of a checkpoint the trainer saved after two steps."""
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=300),
        model=ModelConfig(hidden=(8,), latent_dim=2),
        train=TrainConfig(batch_size=50, max_steps=2, log_every=2, device="cpu", heldout_every=0),
    )
    trainer = Trainer(config, load_data(config.data))
    list(trainer.run())
    path = tmp_path_factory.mktemp("valid") / "checkpoint.safetensors"
    save_trainer(path, trainer, history=[(1.0,) * len(METRICS_COLUMNS)])
    with safe_open(str(path), framework="pt") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata()


def _load_edited(checkpoint_parts, tmp_path, edit) -> str:
    tensors, metadata = checkpoint_parts
    tensors, metadata = dict(tensors), dict(metadata)
    edit(tensors, metadata)
    path = tmp_path / "checkpoint.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(VaeStudioError) as error:
        load_checkpoint(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    return str(error.value)


def test_history_column_names_nested_deeply_are_refused(checkpoint_parts, tmp_path):
    def edit(tensors, metadata):
        metadata["history_columns"] = "[" * 50_000 + "]" * 50_000

    assert "levels deep" in _load_edited(checkpoint_parts, tmp_path, edit)


def test_a_config_nested_deeply_is_refused(checkpoint_parts, tmp_path):
    def edit(tensors, metadata):
        metadata["config"] = '{"data": ' + "[" * 50_000 + "]" * 50_000 + "}"

    assert "levels deep" in _load_edited(checkpoint_parts, tmp_path, edit)


def test_a_history_of_a_million_columns_is_refused(checkpoint_parts, tmp_path):
    def edit(tensors, metadata):
        tensors["history.metrics"] = torch.zeros(1, 1_000_000, dtype=torch.float64)
        metadata["history_columns"] = json.dumps([f"c{i}" for i in range(1_000_000)])

    assert "column" in _load_edited(checkpoint_parts, tmp_path, edit)


def test_a_history_with_infinite_values_is_refused(checkpoint_parts, tmp_path):
    def edit(tensors, metadata):
        table = tensors["history.metrics"].clone()
        table[0, 1] = float("inf")
        tensors["history.metrics"] = table

    assert "infinite" in _load_edited(checkpoint_parts, tmp_path, edit)


def test_a_generator_state_too_short_is_refused(checkpoint_parts, tmp_path):
    def edit(tensors, metadata):
        tensors["counter.generator_state"] = tensors["counter.generator_state"][:100].clone()

    assert "generator_state" in _load_edited(checkpoint_parts, tmp_path, edit)


@pytest.mark.parametrize(
    "text, key",
    [
        ("[data]\nsize = 100000000000000000\n", "data.size"),
        ("[train]\nthreads = 18446744073709551616\n", "train.threads"),
        ("[train]\nmax_minutes = 1e64\n", "train.max_minutes"),
        ("[model]\nlatent_dim = 9223372036854775808\n", "model.latent_dim"),
    ],
)
def test_numbers_past_what_torch_or_the_system_take_are_refused(text, key):
    with pytest.raises(ConfigError, match=key):
        RunConfig.from_toml(text)


def test_a_toml_config_nested_deeply_is_refused():
    with pytest.raises(ConfigError, match="config"):
        RunConfig.from_toml("a = " + "[" * 5000 + "]" * 5000 + "\n")


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--threads", str(2**64)], "--threads"),
        (["--max-minutes", "1e64"], "--max-minutes"),
        (["--seed", str(2**64)], "--seed"),
    ],
)
def test_flags_past_what_torch_or_the_system_take_end_in_one_line(
    tmp_path, cli_in_process, flags, named
):
    code, err = cli_in_process("train", "--out", tmp_path / "run", "--max-steps", 1, *flags)
    assert code == 2 and named in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("family", ["", "vea"])
def test_an_empty_or_misspelt_family_names_the_choices(tmp_path, cli_in_process, family):
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\nfamily = "{family}"\n')
    code, err = cli_in_process("train", "--out", tmp_path / "run", "--config", config)
    assert code == 1
    assert f"unknown model family '{family}' (choose from vae" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("color", ["", "rbg"])
def test_an_empty_or_misspelt_color_is_named_for_any_data_set(tmp_path, cli_in_process, color):
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\ncolor = "{color}"\n')
    code, err = cli_in_process("train", "--out", tmp_path / "run", "--config", config)
    assert code == 1 and f"unknown color '{color}' (choose from grayscale, rgb)" in err
