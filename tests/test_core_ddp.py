"""torchrun (DDP) with 2 gloo processes on small data: the same model as one process, resumable
on another number of processes, one writer, one line when a process is killed, and `evaluate`
sharded to the same figures.

Each test starts `python -m torch.distributed.run --standalone --nproc_per_node=2 main.py ...`
(10 to 20 s here, most of it two interpreters importing torch)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vae_core.checkpoint import load_checkpoint
from vae_core.cli import main

ROOT = Path(__file__).resolve().parents[1]
# VQ-VAE with a Gaussian likelihood, no dead-code resets and a categorical code prior draws no
# random numbers while training: with the same batches, the runs can agree to float rounding.
# (The Gaussian families draw noise per example, from each process's own stream: runs on 1 and 2
# processes are then equal in distribution, not number for number.)
DETERMINISTIC = """
[data]
size = 1500
[model]
family = "vqvae"
likelihood = "gaussian"
hidden = [32]
latent_dim = 4
codebook_size = 16
code_positions = 4
reset_dead_codes = false
code_prior = "categorical"
[train]
batch_size = 32
log_every = 5
heldout_every = 10
heldout_size = 100
lr = 0.003
"""


def _torchrun(*arguments, processes: int = 2, **popen) -> subprocess.Popen:
    """torchrun's own flags (`--max-restarts=2`) may lead `arguments`, before main.py's."""
    launcher = [argument for argument in arguments if str(argument).startswith("--max-restarts")]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        *launcher,
        str(ROOT / "main.py"),
        *(str(argument) for argument in arguments if argument not in launcher),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _finish(run: subprocess.Popen, timeout_s: float = 120) -> tuple[str, str]:
    stdout, stderr = run.communicate(timeout=timeout_s)
    assert run.returncode == 0, stderr
    return stdout, stderr


def _our_lines(stderr: str) -> list[str]:
    """What VAE Studio said (torchrun adds its own report around it)."""
    return [
        line
        for line in stderr.splitlines()
        if line.startswith(("vae-studio", "stopped by", "saved ", "glyphs"))
    ]


def _assert_close_weights(first: dict, second: dict, atol: float = 1e-5) -> None:
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=1e-4, atol=atol, msg=name)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    config = folder / "deterministic.toml"
    config.write_text(DETERMINISTIC)
    out = folder / "run"
    _, stderr = _finish(
        _torchrun("train", "--out", out, "--config", config, "--max-steps", 20, "--device", "cpu")
    )
    return config, out, stderr


def test_two_processes_train_the_weights_one_process_trains(two_process_run, tmp_path):
    config, out, stderr = two_process_run
    single = tmp_path / "single"
    assert (
        main(
            [
                "train",
                "--out",
                str(single),
                "--config",
                str(config),
                "--max-steps",
                "20",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    together, alone = (
        load_checkpoint(out / "checkpoint.safetensors"),
        load_checkpoint(single / "checkpoint.safetensors"),
    )
    _assert_close_weights(together.model_state, alone.model_state)
    # metrics.csv holds the means over both processes' examples: the single process's figures.
    columns = together.history.shape[1]
    loss, heldout = 4, columns - 1
    torch.testing.assert_close(
        torch.tensor(together.history[:, [loss, heldout]]),
        torch.tensor(alone.history[:, [loss, heldout]]),
        rtol=1e-4,
        atol=1e-4,
        equal_nan=True,
    )
    assert "in 2 processes" in stderr


def test_only_the_first_process_writes_the_run_folder(two_process_run):
    _, out, stderr = two_process_run
    assert {path.name for path in out.iterdir()} == {
        "checkpoint.safetensors",
        "best.safetensors",
        "config.json",
        "metrics.csv",
    }
    rows = (out / "metrics.csv").read_text().splitlines()
    # One writer: a header and one row per log point, none doubled or torn.
    assert len(rows) == 1 + 20 // 5 and all(row.count(",") == rows[0].count(",") for row in rows)
    assert [line for line in _our_lines(stderr) if line.startswith("saved ")] == [
        f"saved {out / 'checkpoint.safetensors'} after 20 steps"
    ]


def test_a_two_process_run_resumes_in_one_process_as_if_never_split(two_process_run, tmp_path):
    config, out, _ = two_process_run
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    for name in ("checkpoint.safetensors", "metrics.csv", "config.json"):
        (resumed / name).write_bytes((out / name).read_bytes())
    assert main(["train", "--out", str(resumed), "--resume", "--max-steps", "30"]) == 0
    straight = tmp_path / "straight"
    assert (
        main(
            [
                "train",
                "--out",
                str(straight),
                "--config",
                str(config),
                "--max-steps",
                "30",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    # The split run's weights at step 20 differ from one process's by float rounding (5e-7 at most);
    # where a gradient sits at zero, that can flip the sign of Adam's step, which is lr whatever the
    # gradient's size: the runs then differ by a step or two of lr (0.003), never more.
    _assert_close_weights(
        load_checkpoint(resumed / "checkpoint.safetensors").model_state,
        load_checkpoint(straight / "checkpoint.safetensors").model_state,
        atol=2 * 0.003,
    )


def test_evaluate_under_torchrun_prints_the_figures_of_one_process(two_process_run):
    _, out, _ = two_process_run
    # The training split: 1,250 examples, 3 batches of at most 500, shared 2 and 1.
    flags = ["evaluate", out, "--split", "train", "--device", "cpu"]
    together = json.loads(_finish(_torchrun(*flags))[0])
    alone = json.loads(
        subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *map(str, flags)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert together.keys() == alone.keys() and together["examples"] == alone["examples"] == 1250
    # The time taken and the threads used are the run's, not the figures'.
    for name, value in (
        (name, value) for name, value in alone.items() if name not in ("seconds", "threads")
    ):
        if isinstance(value, float):
            assert together[name] == pytest.approx(value, rel=1e-6, abs=1e-6), name
        else:
            assert (
                together[name] == pytest.approx(value, rel=1e-6)
                if isinstance(value, list)
                else value
            ), name


def _worker_of_rank(launcher: subprocess.Popen, rank: int) -> int:
    """The pid of torchrun's worker process with that RANK."""
    for child in Path("/proc").glob("[0-9]*"):
        try:
            if int((child / "stat").read_text().split(")")[1].split()[1]) != launcher.pid:
                continue
            environment = (child / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if f"RANK={rank}".encode() in environment:
            return int(child.name)
    raise LookupError(f"no worker of rank {rank}")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds torchrun's workers in /proc")
def test_a_killed_process_ends_the_run_with_one_line_not_a_hang_and_it_resumes(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(DETERMINISTIC)
    out = tmp_path / "run"
    run = _torchrun(
        "train",
        "--out",
        out,
        "--config",
        config,
        "--max-steps",
        10_000_000,
        "--device",
        "cpu",
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while (
            not (out / "metrics.csv").exists()
            or len((out / "metrics.csv").read_text().splitlines()) < 3
        ):
            assert time.monotonic() < deadline and run.poll() is None, "the run did not start"
            time.sleep(0.1)
        os.kill(_worker_of_rank(run, 1), signal.SIGKILL)
        started = time.monotonic()
        _, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert time.monotonic() - started < 45 and run.returncode != 0
    ours = _our_lines(stderr)
    said = [line for line in ours if not line.startswith("glyphs")]
    assert len(said) == 1, stderr
    # torchrun reports the killed worker with a traceback of its own; none comes from VAE Studio.
    frames = [line for line in stderr.splitlines() if line.lstrip().startswith("File ")]
    # The project's own files, not torch's (whose virtual environment may live inside the project).
    assert not [frame for frame in frames if str(ROOT) in frame and "site-packages" not in frame], (
        stderr
    )
    # Whatever ended it (torchrun's SIGTERM, or the lost peer), the first process saved first,
    # and the run goes on from there on two processes again.
    step = int(load_checkpoint(out / "checkpoint.safetensors").counters["step"])
    assert step > 0
    _finish(_torchrun("train", "--out", out, "--resume", "--max-steps", step + 10))
    assert int(load_checkpoint(out / "checkpoint.safetensors").counters["step"]) == step + 10


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds torchrun's workers in /proc")
def test_torchrun_restarts_a_killed_worker_and_the_run_ends_with_its_steps_once_each(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(DETERMINISTIC)
    out = tmp_path / "run"
    steps = 300
    # The same command line for every start: --resume auto continues from the last save.
    command = ["train", "--out", out, "--resume", "auto", "--config", config, "--device", "cpu"]
    run = _torchrun(
        "--max-restarts=2",
        *command,
        "--max-steps",
        steps,
        "--save-every",
        0.002,
        start_new_session=True,
    )
    try:
        while not (out / "checkpoint.safetensors").exists():
            assert run.poll() is None, run.communicate()[1]
            time.sleep(0.05)
        killed = _worker_of_rank(run, 0)  # the writer itself: its rows since the save are retrained
        os.kill(killed, signal.SIGKILL)
        _, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, stderr
    # Each start of the leader describes the run: the first, and torchrun's restart.
    assert sum("training vqvae on cpu in 2 processes" in line for line in stderr.splitlines()) >= 2
    checkpoint = load_checkpoint(out / "checkpoint.safetensors")
    assert int(checkpoint.counters["step"]) == steps
    expected = list(range(5, steps + 1, 5))
    assert [int(row[0]) for row in checkpoint.history] == expected
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == expected
