"""The command line end to end, on the built-in data, in a fresh interpreter as a user runs it."""

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_core import cli

ROOT = Path(__file__).resolve().parents[1]


def _run(*arguments, cwd=ROOT):
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_train_then_evaluate_on_the_built_in_data(tmp_path):
    run_dir = tmp_path / "run"
    config = tmp_path / "small.toml"
    # A decoder started at the mean image ignores z for its first steps, and the importance
    # sampling check below needs one that uses it after 20.
    config.write_text(
        "[data]\nsize = 600\n[model]\nhidden = [32]\n[train]\nbatch_size = 50\nlog_every = 5\ninit_output_bias = false\n"
    )
    result = _run(
        "train", "--out", run_dir, "--config", config, "--max-steps", 20, "--latent-dim", 3
    )
    assert result.returncode == 0, result.stderr
    # The held-out curve was measured where the run ended, so there is a best checkpoint too.
    assert {p.name for p in run_dir.iterdir()} == {
        "checkpoint.safetensors",
        "best.safetensors",
        "config.json",
        "metrics.csv",
    }
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"]["latent_dim"] == 3 and saved["model"]["hidden"] == [32]
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    assert {"step", "epoch", "wall_time_s", "images_per_s", "loss", "recon", "kl", "beta"} <= set(
        rows[0]
    )

    result = _run("evaluate", run_dir, "--iw-samples", 20, "--limit", 50)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["examples"] == 50
    assert figures["elbo"] == pytest.approx(-(figures["recon"] + figures["kl"]))
    assert figures["log_likelihood_is"] > figures["elbo"]
    assert len(figures["kl_per_dim"]) == 3 and 0 <= figures["active_units"] <= 3

    result = _run("analyze", run_dir, "--index", 2, "--steps", 20, "--k", 10, 100)
    assert result.returncode == 0, result.stderr
    analysis = json.loads(result.stdout)
    assert analysis["amortization_gap"] == pytest.approx(
        analysis["optimized_elbo"] - analysis["amortized_elbo"]
    )
    estimates = {(e["proposal"], e["samples"]): e for e in analysis["importance_sampling"]}
    assert set(estimates) == {("prior", 10), ("prior", 100), ("posterior", 10), ("posterior", 100)}
    # The seed's variance argument: q(z|x) is the better proposal, with the larger effective sample size.
    assert (
        estimates["posterior", 100]["effective_sample_size"]
        > estimates["prior", 100]["effective_sample_size"]
    )

    result = _run(
        "train", "--out", run_dir, "--resume", "--max-steps", 30, "--lr", "1e-4", "--beta", "2"
    )
    assert result.returncode == 0, result.stderr
    with (run_dir / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20, 25, 30]
    assert [(float(r["learning_rate"]), float(r["beta"])) for r in rows[-2:]] == [(1e-4, 2.0)] * 2


@pytest.mark.parametrize(
    "arguments, message",
    [
        (
            ["train", "--out", "{tmp}/r", "--latent-dim", "0"],
            "argument --latent-dim: expected a number >= 1, got 0",
        ),
        (
            ["train", "--out", "{tmp}/r", "--model", "gan"],
            "argument --model: invalid choice: 'gan'",
        ),
        (["train", "--out", "{tmp}/r", "--hidden", "400,x"], "expected sizes like 400 or 400,200"),
        (
            ["train", "--out", "{tmp}/r", "--threads", "0"],
            "argument --threads: expected a number >= 1, got 0",
        ),
        (["train", "--out", "{tmp}/r", "--lr", "-1"], "argument --lr"),
        (["train"], "the following arguments are required: --out"),
        (["train", "--out", "{tmp}/r", "--config", "{tmp}/missing.toml"], "cannot read config"),
        (["train", "--out", "{tmp}/r", "--dataset", "imagenet"], "unknown data set 'imagenet'"),
        (["train", "--out", "{tmp}/r", "--resume"], "checkpoint not found"),
        (["evaluate", "{tmp}/nowhere"], "checkpoint not found"),
        (["analyze", "{tmp}/nowhere"], "checkpoint not found"),
        (["train", "--out", "{tmp}/a_file/r", "--max-steps", "1"], "Not a directory"),
    ],
)
def test_bad_input_ends_with_one_clear_line(tmp_path, cli_in_process, arguments, message):
    (tmp_path / "a_file").write_text("")
    code, stderr = cli_in_process(*[a.format(tmp=tmp_path) for a in arguments])
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("vae-studio")
    assert message in lines[0]


def test_unknown_config_key_is_named(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[model]\nlatent = 2\n")
    result = _run("train", "--out", tmp_path / "r", "--config", config)
    assert result.returncode == 1
    assert result.stderr.strip() == "vae-studio: error: unknown config key 'model.latent'"


def test_threads_flag_sets_torchs_threads_for_the_run_and_is_kept(tmp_path):
    # In this process, so that the count it sets can be read (conftest puts the old one back).
    config = tmp_path / "small.toml"
    config.write_text(
        "[data]\nsize = 200\n[model]\nhidden = [16]\n[train]\nbatch_size = 50\nheldout_every = 0\n"
    )
    torch.set_num_threads(2)
    assert (
        cli.main(
            [
                "train",
                "--out",
                str(tmp_path / "run"),
                "--config",
                str(config),
                "--max-steps",
                "2",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    assert torch.get_num_threads() == 1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["threads"] == 1
    # A config without the key (any run saved before it existed) leaves torch's count alone.
    torch.set_num_threads(2)
    assert (
        cli.main(
            ["train", "--out", str(tmp_path / "run2"), "--config", str(config), "--max-steps", "2"]
        )
        == 0
    )
    assert torch.get_num_threads() == 2


def test_compile_flag_is_kept_and_no_compile_overrides_the_config(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        torch, "compile", lambda module, **options: module
    )  # the plumbing, not inductor
    config = tmp_path / "small.toml"
    config.write_text(
        "[data]\nsize = 200\n[model]\nhidden = [16]\n[train]\nbatch_size = 50\nheldout_every = 0\ncompile = true\n"
    )
    assert (
        cli.main(
            [
                "train",
                "--out",
                str(tmp_path / "off"),
                "--config",
                str(config),
                "--max-steps",
                "2",
                "--no-compile",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "off" / "config.json").read_text())["train"]["compile"] is False
    assert "torch.compile" not in capsys.readouterr().err
    assert (
        cli.main(
            ["train", "--out", str(tmp_path / "on"), "--config", str(config), "--max-steps", "2"]
        )
        == 0
    )
    assert json.loads((tmp_path / "on" / "config.json").read_text())["train"]["compile"] is True
    assert "note: compiling the training step with torch.compile" in capsys.readouterr().err


def _write_idx(path: Path, array: np.ndarray):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_idx_folder_trains_from_the_command_line(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "tiny"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 8, 8)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 3, 40))
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 8, 8)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 3, 10))
    result = _run(
        "train",
        "--out",
        tmp_path / "r",
        "--dataset",
        f"idx:{folder}",
        "--max-steps",
        3,
        "--batch-size",
        20,
        "--hidden",
        16,
        "--log-every",
        1,
    )
    assert result.returncode == 0, result.stderr


def test_evaluate_and_analyze_take_a_checkpoint_file_and_print_it_pretty(tmp_path, capsys):
    images, run_dir = tmp_path / "images.npy", tmp_path / "run"
    np.save(images, np.random.default_rng(0).integers(0, 256, (60, 8, 8), dtype=np.uint8))
    training = ["--dataset", f"npy:{images}", "--max-steps", "2", "--batch-size", "10"]
    assert cli.main(["train", "--out", str(run_dir), *training, "--hidden", "16"]) == 0
    saved = tmp_path / "saved from the window.safetensors"
    (run_dir / "checkpoint.safetensors").rename(saved)
    capsys.readouterr()
    assert cli.main(["evaluate", str(saved), "--limit", "5", "--pretty"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") > 5 and json.loads(printed)["examples"] == 5
    arguments = ["analyze", str(saved), "--steps", "1", "--k", "2", "--gradient-k", "1"]
    assert cli.main([*arguments, "--pretty"]) == 0
    pretty = capsys.readouterr().out
    assert cli.main(arguments) == 0
    plain = capsys.readouterr().out
    assert plain.count("\n") == 1 and pretty.count("\n") > 10
    assert json.loads(pretty).keys() == json.loads(plain).keys()
