"""The first Adam step in a fresh process, cold and after `warm_up_optimizer()`, for each of the
implementations `make_adam` picks from: the fused kernel called directly, and torch.optim.Adam.

torch.optim imports torch._dynamo at an optimizer's first step. Each process builds the core
benchmark's MLP (784-400-20), takes one gradient, then times `make_adam` and its first step
together (the checks inside `make_adam` are a first step themselves), and a second step for
comparison. A warmed process first runs `warm_up_optimizer()` on a background thread to its end,
as the window does while it stands open; that time is reported too. The modes alternate, so
machine noise hits them alike; the figures are medians over the processes.

Run: .venv/bin/python benchmarks/bench_optimizer_start.py [--processes 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time

from _common import write_results

MODES = ("kernel cold", "kernel warmed", "torch.optim cold", "torch.optim warmed")


def first_steps(mode: str) -> dict[str, float]:
    """In this process: the warm-up's seconds (warmed modes), the first and the second step's."""
    import torch

    from vae_core import optimizer as optimizer_module
    from vae_core.optimizer import make_adam, warm_up_optimizer

    if mode.startswith("torch.optim"):
        optimizer_module._kernel_adam_runs = lambda device, dtype: (
            False
        )  # as a torch without the op
    figures = {}
    if mode.endswith("warmed"):
        started = time.perf_counter()
        warm_up = threading.Thread(target=warm_up_optimizer)
        warm_up.start()
        warm_up.join()
        figures["warm_up_s"] = time.perf_counter() - started
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 400), torch.nn.ReLU(), torch.nn.Linear(400, 20)
    )
    inputs = torch.rand(128, 784)
    for name in ("first_step_s", "second_step_s"):
        model(inputs).pow(2).mean().backward()
        started = time.perf_counter()
        if name == "first_step_s":
            optimizer = make_adam(model.parameters(), lr=1e-3)
        optimizer.step()
        figures[name] = time.perf_counter() - started
    return figures


def in_a_fresh_process(mode: str) -> dict[str, float]:
    finished = subprocess.run(
        [sys.executable, __file__, "--child", mode], capture_output=True, text=True, check=True
    )
    return json.loads(finished.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=5, help="fresh processes of each mode")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(first_steps(arguments.child)))
        return

    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(arguments.processes):
        for mode in MODES:
            runs[mode].append(in_a_fresh_process(mode))
    medians = {
        mode: {name: statistics.median(run[name] for run in runs[mode]) for name in runs[mode][0]}
        for mode in MODES
    }
    print(f"{arguments.processes} fresh processes of each, medians:")
    for mode, figures in medians.items():
        warm_up = (
            f"warm-up {figures['warm_up_s']:.3f} s on a background thread, then "
            if "warm_up_s" in figures
            else ""
        )
        print(
            f"  {mode:18s} {warm_up}first step {figures['first_step_s']:.3f} s, "
            f"second {figures['second_step_s'] * 1000:.1f} ms"
        )
    write_results(
        "optimizer_start", {"processes": arguments.processes, "runs": runs, "medians": medians}
    )


if __name__ == "__main__":
    main()
