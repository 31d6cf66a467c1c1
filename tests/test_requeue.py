"""A cluster's requeue: SIGUSR1 (or the signal chosen) saves, calls `scontrol requeue` with the
job's id, exits 138; the same command line with `--resume auto` continues from the saved step. A
fake `scontrol` on PATH records its calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vae_core.checkpoint import load_checkpoint
from vae_core.cli import main
from vae_core.requeue import requeue_exit_code, requeue_job, slurm_job_id
from vae_core.run_record import read_metrics

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "glyphs", "--hidden", "16", "--batch-size", "50", "--log-every", "5"]


@pytest.fixture
def fake_scontrol(tmp_path, monkeypatch) -> Path:
    """A `scontrol` first on PATH that appends its arguments to the returned file and exits with
    $SCONTROL_EXIT (0 unless set)."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    calls = tmp_path / "scontrol-calls.txt"
    script = bin_folder / "scontrol"
    script.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit ${{SCONTROL_EXIT:-0}}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    return calls


def _train_command(out: Path, config: Path) -> list[str]:
    return ["train", "--out", str(out), "--resume", "auto", "--config", str(config), *SMALL]


def _wait_for_rows(path: Path, rows: int, run: subprocess.Popen) -> None:
    # A budget in rows of metrics, not seconds; the run's own end stops the wait.
    while not path.exists() or len(path.read_text().splitlines()) <= rows:
        assert run.poll() is None, run.stderr.read()
        time.sleep(0.05)


def test_the_requeue_signal_saves_requeues_and_the_same_command_resumes(
    tmp_path, fake_scontrol, monkeypatch
):
    config = tmp_path / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_every = 0\n")
    out = tmp_path / "run"
    command = _train_command(out, config)
    environment = {**os.environ, "SLURM_JOB_ID": "4242"}
    run = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *command, "--max-steps", "1000000"],
        cwd=ROOT,
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_rows(out / "metrics.csv", 3, run)
    run.send_signal(signal.SIGUSR1)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == requeue_exit_code(signal.SIGUSR1) == 138, stderr
    assert "requeued SLURM job 4242" in stderr and "Traceback" not in stderr
    assert fake_scontrol.read_text() == "requeue 4242\n"
    step = int(load_checkpoint(out / "checkpoint.safetensors").counters["step"])
    assert step >= 15
    # The requeued job runs the same command line (its budget shortened here, to end the test).
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    assert main([*command, "--max-steps", str(step + 10)]) == 0
    resumed = load_checkpoint(out / "checkpoint.safetensors")
    assert int(resumed.counters["step"]) == step + 10
    steps = [int(row[0]) for row in resumed.history]
    assert steps == sorted(set(steps)) and steps[-1] == step + 10
    assert [int(row[0]) for row in read_metrics(out / "metrics.csv")] == steps


def test_resume_auto_starts_a_run_where_there_is_none(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text("[data]\nsize = 600\n[train]\nheldout_every = 0\n")
    out = tmp_path / "run"
    out.mkdir()
    # What a run killed before its first save leaves: metrics, no checkpoint.
    (out / "metrics.csv").write_text("step,epoch\n5,0\n")
    assert main([*_train_command(out, config), "--max-steps", "10"]) == 0
    assert int(load_checkpoint(out / "checkpoint.safetensors").counters["step"]) == 10
    assert (out / "metrics.csv").read_text().splitlines()[1].startswith("5,")


def test_a_failing_scontrol_is_one_line_and_the_run_is_not_requeued(fake_scontrol, monkeypatch):
    monkeypatch.setenv("SCONTROL_EXIT", "1")
    said = []
    assert not requeue_job(said.append, {"SLURM_JOB_ID": "7"})
    assert len(said) == 1 and said[0].startswith("scontrol requeue 7 failed")
    assert "the checkpoint stands" in said[0]


def test_without_slurm_nothing_is_called(fake_scontrol):
    said = []
    assert not requeue_job(said.append, {})
    assert not fake_scontrol.exists() and "not requeued" in said[0]


def test_an_array_task_is_requeued_by_its_array_id():
    array_task = {"SLURM_JOB_ID": "9", "SLURM_ARRAY_JOB_ID": "8", "SLURM_ARRAY_TASK_ID": "3"}
    assert slurm_job_id(array_task) == "8_3"
    assert slurm_job_id({"SLURM_JOB_ID": "9"}) == "9"
