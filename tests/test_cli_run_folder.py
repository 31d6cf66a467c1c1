"""Headless runs that survive: killed, stopped by a signal, diverged, or raced by a second run."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vae_core.checkpoint import load_checkpoint, save_checkpoint
from vae_core.cli import main
from vae_core.config import ModelConfig, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.files import write_text_atomically
from vae_core.models import build_model
from vae_core.run_folder import LOCK_NAME
from vae_core.training import budget

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "--dataset",
    "glyphs",
    "--hidden",
    "32",
    "--latent-dim",
    "2",
    "--batch-size",
    "50",
    "--log-every",
    "5",
]


@pytest.fixture
def small_config(tmp_path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text("[data]\nsize = 600\n")
    return path


def _train(out: Path, config: Path, *flags) -> int:
    return main(["train", "--out", str(out), "--config", str(config), *SMALL, *map(str, flags)])


def _start(out: Path, config: Path, *flags) -> subprocess.Popen:
    command = [
        sys.executable,
        str(ROOT / "main.py"),
        "train",
        "--out",
        str(out),
        "--config",
        str(config),
        *SMALL,
    ]
    return subprocess.Popen(
        [*command, *map(str, flags)], cwd=ROOT, stderr=subprocess.PIPE, text=True
    )


def _wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not get there in time")
        time.sleep(0.05)


def _metric_rows(out: Path) -> int:
    path = out / "metrics.csv"
    return len(path.read_text().splitlines()) - 1 if path.exists() else 0


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_stop_signal_saves_and_exits_with_its_code_and_the_run_resumes(
    tmp_path, small_config, name, code
):
    out = tmp_path / "run"
    run = _start(out, small_config, "--max-steps", 1_000_000)
    # metrics.csv is flushed at every row: it shows the run's progress while it runs.
    _wait_for(lambda: _metric_rows(out) >= 3)
    run.send_signal(getattr(signal, name))
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == code, stderr
    assert f"stopped by {name}" in stderr and "Traceback" not in stderr
    step = int(load_checkpoint(out / "checkpoint.safetensors").counters["step"])
    assert step >= 15 and not (out / LOCK_NAME).exists()
    assert main(["train", "--out", str(out), "--resume", "--max-steps", str(step + 10)]) == 0
    assert int(load_checkpoint(out / "checkpoint.safetensors").counters["step"]) == step + 10


def test_a_run_killed_after_its_first_periodic_save_leaves_a_checkpoint_that_resumes(
    tmp_path, small_config
):
    out = tmp_path / "run"
    run = _start(out, small_config, "--max-steps", 1_000_000, "--save-every", 0.005)  # every 0.3 s
    _wait_for(lambda: (out / "checkpoint.safetensors").exists())
    time.sleep(0.5)
    run.kill()
    run.communicate(timeout=60)
    checkpoint = load_checkpoint(out / "checkpoint.safetensors")
    step = int(checkpoint.counters["step"])
    assert step > 0 and len(checkpoint.history) >= step // 5
    # The dead run's lock is stale: the next run takes it over, and removes any half-written save.
    assert (out / LOCK_NAME).exists()
    assert main(["evaluate", str(out), "--limit", "20"]) == 0
    assert main(["train", "--out", str(out), "--resume", "--max-steps", str(step + 5)]) == 0
    assert not list(out.glob(".*.partial")) and not (out / LOCK_NAME).exists()


def test_a_folder_another_live_run_writes_is_refused(tmp_path, small_config, capsys):
    out = tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_NAME).write_text(f"{sleeper.pid}\n")
        assert _train(out, small_config, "--max-steps", 5) == 1
        message = capsys.readouterr().err
        assert (
            f"being written by another run (process {sleeper.pid} on " in message
            and message.count("\n") == 1
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (
        _train(out, small_config, "--max-steps", 5) == 0
    )  # its process is gone: the lock is stale


def test_a_folder_holding_a_run_asks_for_resume_or_overwrite(tmp_path, small_config, capsys):
    out = tmp_path / "run"
    assert _train(out, small_config, "--max-steps", 10) == 0
    (out / ".checkpoint.safetensors.x1y2.partial").write_bytes(b"half a save")
    capsys.readouterr()
    assert _train(out, small_config, "--max-steps", 5) == 1
    assert (
        "already holds a run: continue it with --resume, or replace it with --overwrite"
        in capsys.readouterr().err
    )
    assert int(load_checkpoint(out / "checkpoint.safetensors").counters["step"]) == 10
    assert _train(out, small_config, "--max-steps", 5, "--overwrite") == 0
    assert int(load_checkpoint(out / "checkpoint.safetensors").counters["step"]) == 5
    assert _metric_rows(out) == 1 and not list(out.glob(".*.partial"))


def test_divergence_keeps_the_last_good_weights_and_says_where(tmp_path, small_config, capsys):
    out = tmp_path / "run"
    code = _train(
        out, small_config, "--beta", "1e40", "--beta-schedule", "linear", "--max-steps", 1000
    )
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        code == 1 and "the last good ones, are in" in message and "last_good.safetensors" in message
    )
    kept = load_checkpoint(out / "last_good.safetensors")
    assert all(torch.isfinite(value).all() for value in kept.model_state.values())
    assert len(kept.history) >= 1


def test_atomic_writes_reach_the_disk_with_the_usual_mode(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda handle: synced.append(handle) or real_fsync(handle))
    path = tmp_path / "config.json"
    previous = os.umask(0o022)
    try:
        write_text_atomically(path, "{}\n")
    finally:
        os.umask(previous)
    assert path.read_text() == "{}\n" and (path.stat().st_mode & 0o777) == 0o644
    assert len(synced) == 2  # the file, then the folder that names it


def test_a_save_that_cannot_be_written_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    config = RunConfig(model=ModelConfig(hidden=(8,), latent_dim=2, input_shape=(1, 28, 28)))
    weights = build_model(config.model).state_dict()
    path = tmp_path / "checkpoint.safetensors"
    save_checkpoint(path, config, weights)
    before = path.read_bytes()

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vae_core.checkpoint.save_file", disk_full)
    with pytest.raises(VaeStudioError, match=f"cannot write {path}: No space left on device"):
        save_checkpoint(path, config, weights)
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.partial"))


def test_a_time_budget_stops_the_run_saves_and_exits_0_and_the_run_resumes(
    tmp_path, small_config, capsys, monkeypatch
):
    # A clock of steps, not seconds: each reading is one second later, and the budget is read at
    # the command's start and once a step, so 1.8 s last two steps on any machine.
    ticks = itertools.count()
    monkeypatch.setattr(budget, "now", lambda: float(next(ticks)))
    out = tmp_path / "run"
    assert _train(out, small_config, "--max-steps", 10_000_000, "--max-minutes", 0.03) == 0
    assert "the time budget ran out at step" in capsys.readouterr().err
    step = int(load_checkpoint(out / "checkpoint.safetensors").counters["step"])
    assert 0 < step < 5
    # The saved config keeps its budget: a resumed run is given a longer one.
    resumed = ["--resume", "--max-steps", str(step + 5), "--max-minutes", "10"]
    assert main(["train", "--out", str(out), *resumed]) == 0
    assert int(load_checkpoint(out / "checkpoint.safetensors").counters["step"]) == step + 5
