"""One process with 2 threads against 2 gloo processes with 1 thread each (torchrun), training
the same model on the same global batch: images/s of each, their ratio, and the share of a DDP
step that the all-reduces take.

Model MLP 784-400-20 (Bernoulli likelihood), global batch 128, MNIST when ../shared/data/mnist
exists, else the built-in glyphs; no held-out evaluation. Each round measures `--steps` steps
after 20 warm-up steps; the two set-ups alternate for `--rounds` rounds, so machine noise hits
both alike, and the figures are medians. The all-reduce share: the time to all-reduce one
buffer of the model's gradient size (what DDP's buckets carry; it overlaps the backward pass, so
this bounds its cost from above) plus the per-step stop vote, over the measured step time.

    .venv/bin/python benchmarks/bench_ddp.py [--rounds 3] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import MNIST_DIR, ROOT, write_results

from vae_core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vae_core.data import load_data
from vae_core.distributed import join
from vae_core.training.trainer import Trainer

BATCH_SIZE = 128
WARM_UP_STEPS = 20
COLLECTIVE_REPEATS = 200


def _config(steps: int) -> RunConfig:
    data = (
        DataConfig(dataset="mnist", data_dir=str(MNIST_DIR)) if MNIST_DIR.is_dir() else DataConfig()
    )
    return RunConfig(
        data=data,
        model=ModelConfig(arch="mlp", hidden=(400,), latent_dim=20),
        train=TrainConfig(
            batch_size=BATCH_SIZE,
            max_steps=WARM_UP_STEPS + steps,
            log_every=WARM_UP_STEPS,
            heldout_every=0,
            device="cpu",
        ),
    )


def _images_per_s(trainer: Trainer) -> float:
    """Of the steps after the warm-up, which the second and last snapshot covers alone."""
    snapshots = trainer.run()
    next(snapshots)
    trainer.set_log_every(trainer.total_steps - WARM_UP_STEPS)
    return [snapshot.images_per_s for snapshot in snapshots][-1]


def _seconds_per(action, repeats: int = COLLECTIVE_REPEATS) -> float:
    action()
    start = time.perf_counter()
    for _ in range(repeats):
        action()
    return (time.perf_counter() - start) / repeats


def worker(steps: int, results: Path) -> None:
    """One of torchrun's processes: trains, then times its collectives; the first writes figures."""
    torch.set_num_threads(1)
    team, device = join(torch.device("cpu"))
    config = _config(steps)
    trainer = Trainer(config, load_data(config.data), device)
    images_per_s = _images_per_s(trainer)
    gradients = torch.zeros(sum(parameter.numel() for parameter in trainer.model.parameters()))
    all_reduce_s = _seconds_per(lambda: team.sum_(gradients))
    vote_s = _seconds_per(lambda: team.any(False))
    team.close()
    if team.leader:
        step_s = BATCH_SIZE / images_per_s
        results.write_text(
            json.dumps(
                {
                    "images_per_s": images_per_s,
                    "step_s": step_s,
                    "gradient_values": len(gradients),
                    "all_reduce_s": all_reduce_s,
                    "stop_vote_s": vote_s,
                    "all_reduce_share": (all_reduce_s + vote_s) / step_s,
                }
            )
        )


def _two_processes(steps: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "figures.json"
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            __file__,
            "--worker",
            str(results),
            "--steps",
            str(steps),
        ]
        subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            check=True,
            capture_output=True,
        )
        return json.loads(results.read_text())


def _one_process(steps: int, threads: int) -> float:
    torch.set_num_threads(threads)
    config = _config(steps)
    return _images_per_s(Trainer(config, load_data(config.data)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker is not None:
        worker(arguments.steps, arguments.worker)
        return
    # One thread in one process too, as a reference: two threads on a busy machine can be slower
    # than one, each parallel region waiting for a thread that the scheduler has put aside.
    single, one_thread, double = [], [], []
    for round_index in range(arguments.rounds):
        single.append(_one_process(arguments.steps, threads=2))
        one_thread.append(_one_process(arguments.steps, threads=1))
        double.append(_two_processes(arguments.steps))
        print(
            f"round {round_index + 1}: 1 process x 2 threads {single[-1]:,.0f} img/s "
            f"(x 1 thread {one_thread[-1]:,.0f}), 2 processes x 1 thread {double[-1]['images_per_s']:,.0f} img/s, "
            f"all-reduce share {double[-1]['all_reduce_share']:.1%}"
        )
    single_median, one_thread_median = statistics.median(single), statistics.median(one_thread)
    double_median = statistics.median(figures["images_per_s"] for figures in double)
    share = statistics.median(figures["all_reduce_share"] for figures in double)
    ratio = double_median / single_median
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        f"median images/s: 1 process x 2 threads {single_median:,.0f} (x 1 thread {one_thread_median:,.0f}), "
        f"2 processes x 1 thread {double_median:,.0f}; ratio {ratio:.3f}; all-reduce share per step {share:.1%} "
        f"(load average {load})"
    )
    write_results(
        "ddp",
        {
            "dataset": _config(1).data.dataset,
            "global_batch": BATCH_SIZE,
            "steps": arguments.steps,
            "rounds": arguments.rounds,
            "one_process_images_per_s": single,
            "two_processes": double,
            "one_process_one_thread_images_per_s": one_thread,
            "one_process_one_thread_median": one_thread_median,
            "one_process_median": single_median,
            "two_processes_median": double_median,
            "ratio_two_processes_over_one": ratio,
            "all_reduce_share_median": share,
            "load_average_1min": load,
        },
    )


if __name__ == "__main__":
    main()
