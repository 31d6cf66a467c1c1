"""Error messages stay one line that names the file and says what went wrong: control characters in
file names escaped, an unreadable checkpoint called unreadable, a full disk naming the file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from vae_core.checkpoint import load_checkpoint, save_trainer
from vae_core.cli import main
from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.errors import VaeStudioError
from vae_core.training.trainer import Trainer


def _tiny_trainer() -> Trainer:
    config = RunConfig(
        data=DataConfig(dataset="glyphs", size=60),
        model=ModelConfig(hidden=(8,)),
        train=TrainConfig(max_steps=2, batch_size=20, log_every=1, heldout_every=0),
    )
    return Trainer(config, load_data(config.data))


def _exit_code(arguments: list[str]) -> int:
    try:
        return main(arguments)
    except SystemExit as exit:  # how argparse ends on a bad flag
        return exit.code


def _one_line_of(capsys) -> str:
    (line,) = capsys.readouterr().err.splitlines()
    return line


def test_control_characters_in_a_message_are_escaped():
    assert str(VaeStudioError("/data/a\nb\x1b[31m.npz: empty")) == "/data/a\\nb\\x1b[31m.npz: empty"


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        (
            ["evaluate", "{tmp}/run\nsecond line"],
            "run\\nsecond line/checkpoint.safetensors: checkpoint not found",
        ),
        (
            ["train", "--out", "{tmp}/r", "--config", "{tmp}/a\nb.toml"],
            "cannot read config {tmp}/a\\nb.toml",
        ),
        (["train", "--out", "{tmp}/r", "--model", "v\nae"], "invalid choice: 'v\\nae'"),
    ],
    ids=["checkpoint", "config", "flag"],
)
def test_a_newline_in_a_name_does_not_split_the_line(tmp_path, capsys, arguments, problem):
    assert _exit_code([argument.format(tmp=tmp_path) for argument in arguments]) != 0
    assert problem.format(tmp=tmp_path) in _one_line_of(capsys)


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads a file of mode 000 anyway"
)
def test_a_checkpoint_that_may_not_be_read_is_called_so(tmp_path):
    path = tmp_path / "checkpoint.safetensors"
    save_trainer(path, _tiny_trainer())
    path.chmod(0)
    try:
        with pytest.raises(
            VaeStudioError,
            match=r"checkpoint.safetensors: cannot read the checkpoint \(Permission denied\)$",
        ):
            load_checkpoint(path)
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(
    not Path("/dev/full").exists(),
    reason="needs /dev/full, a file whose every write finds the disk full",
)
def test_a_full_disk_while_writing_metrics_names_the_file(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.csv").symlink_to("/dev/full")
    small = tmp_path / "small.toml"
    small.write_text(
        "[data]\nsize = 60\n[model]\nhidden = [8]\n[train]\nbatch_size = 20\nheldout_every = 0\n"
    )
    assert (
        main(
            ["train", "--out", str(out), "--config", str(small), "--max-steps", "2", "--overwrite"]
        )
        == 1
    )
    described, error = capsys.readouterr().err.splitlines()
    assert "training vae on " in described
    assert (
        error == f"vae-studio: error: cannot write {out / 'metrics.csv'}: No space left on device"
    )


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_run_folder_name_is_refused_and_nothing_is_written(
    tmp_path, monkeypatch, capsys, name
):
    monkeypatch.chdir(tmp_path)
    assert _exit_code(["train", "--out", name, "--max-steps", "1"]) == 2
    assert (
        _one_line_of(capsys)
        == f"vae-studio train: error: argument --out: needs a folder name, got {name!r}"
    )
    assert list(tmp_path.iterdir()) == []
