"""The training step's speed against the machine's limit, lever by lever, in one process.

For the one-layer (784-200-200-50) and the two-layer (`mnist-nll-30min`, hvae) models on MNIST, the
core's Trainer runs its real step (data batch, dynamic binarisation, loss, backward, fused Adam)
under each lever, in alternating rounds of equal images (the order rotated every round), so that a
shared machine's noise hits every lever alike:

- batch 100 (the preset's) against 200 and 500, at equal images per round;
- one torch thread against two;
- eager against `train.compile` (vae_core/training/compiled.py: the objective under torch.compile,
  its draws the trainer's own stream); with --naive-compile also torch.compile of the objective as
  the Trainer calls it, its torch.Generator in the graph (dynamo cannot trace it: graph breaks).
  Compile seconds: the first round's time less a round's median time, with a fresh inductor
  cache (what a first run pays; --warm-cache keeps torch's cache, what later runs pay).

Every round also measures the float32 matmul ceiling on one and on two threads; each lever's
achieved GFLOP/s (counted from the layer shapes, as bench_nll.py does) is divided by the ceiling of
its own round and thread count. Then a breakdown of where a batch-100 step's time goes: phases by
the clock (data and binarisation, forward, backward, Adam), and within them the matmuls' share
from torch.profiler. Medians over the rounds; the load average is printed before and after.

    .venv/bin/python benchmarks/bench_step_speed.py                      # about 8 minutes
    .venv/bin/python benchmarks/bench_step_speed.py --rounds 3 --no-compile
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time

import torch
from _common import MNIST_DIR, write_results
from bench_nll import ONE_LAYER, PRESET, step_flops

from vae_core.config import RunConfig
from vae_core.data import load_data
from vae_core.presets import load_preset
from vae_core.training.trainer import Trainer

BASE_THREADS = 1
BATCHES = (100, 200, 500)
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::mkldnn_matmul")
RANDOM_OPS = ("aten::uniform_", "aten::normal_", "aten::random_", "aten::bernoulli_")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def matmul_gflops(threads: int, size: int = 1024, seconds: float = 0.5) -> float:
    """GFLOP/s of a float32 (size x size) matmul on `threads` torch threads, for about `seconds`."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        repeats += 1
    elapsed = time.perf_counter() - start
    torch.set_num_threads(BASE_THREADS)
    return 2 * size**3 * repeats / elapsed / 1e9


@dataclasses.dataclass
class Lever:
    """One way of running the step: a Trainer of its own, stepped `steps` at a time."""

    model: str
    name: str
    config: RunConfig
    data: object
    threads: int = BASE_THREADS
    compile: str | None = None  # None, "train.compile" or "naive" (the generator in the graph)
    first_round_s: float | None = None
    rates: list[float] = dataclasses.field(default_factory=list)
    shares: list[float] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.compile == "train.compile":
            self.config = dataclasses.replace(
                self.config, train=dataclasses.replace(self.config.train, compile=True)
            )
        self.trainer = Trainer(
            self.config, self.data, say=lambda line: print(f"[{self.model}] {line}", flush=True)
        )
        self.flops = step_flops(self.trainer)
        if self.compile == "naive":
            compiled = torch.compile(self.trainer._objective)
            self.trainer._objective = lambda x, y, beta, generator: compiled(
                x, y, torch.tensor(beta), generator
            )
        self.run = self.trainer.run()

    @property
    def compile_seconds(self) -> float | None:
        """The first round's time (compiling, then a round) less a round's median time."""
        if self.compile is None or not self.rates:
            return None
        return self.first_round_s - self.config.train.log_every / statistics.median(self.rates)

    @property
    def batch_size(self) -> int:
        return self.config.train.batch_size

    def round(self) -> float:
        """One round of `log_every` steps: steps per second."""
        torch.set_num_threads(self.threads)
        try:
            start = time.perf_counter()
            next(self.run)
            return self.config.train.log_every / (time.perf_counter() - start)
        finally:
            torch.set_num_threads(BASE_THREADS)


def lever_config(config: RunConfig, batch_size: int, images: int) -> RunConfig:
    # No held-out split (its evaluations would fall inside rounds); a round is one log interval;
    # eager unless a lever compiles (the preset compiles).
    train = dataclasses.replace(
        config.train,
        batch_size=batch_size,
        max_steps=10**9,
        log_every=max(1, images // batch_size),
        heldout_every=0,
        max_minutes=None,
        compile=False,
    )
    return dataclasses.replace(config, train=train)


def phase_breakdown(lever: Lever, steps: int) -> dict:
    """Where a step's time goes: each phase by the clock over `steps` steps, and the matmuls' and
    the random draws' share of each from torch.profiler over as many more."""
    trainer, model = lever.trainer, lever.trainer.model
    phases = ("data and binarisation", "forward", "backward", "adam")
    clock = dict.fromkeys(phases, 0.0)

    def step(timed: bool) -> None:
        marks = [time.perf_counter()]
        with torch.profiler.record_function(phases[0]):
            images, labels = trainer.data.batch(trainer._next_indices())
            observed = model.observe(images, trainer.generator)
        marks.append(time.perf_counter())
        with torch.profiler.record_function(phases[1]):
            terms = model.loss(observed, labels, beta=1.0, generator=trainer.generator)
        marks.append(time.perf_counter())
        with torch.profiler.record_function(phases[2]):
            trainer.optimizer.zero_grad()
            terms["loss"].backward()
        marks.append(time.perf_counter())
        with torch.profiler.record_function(phases[3]):
            trainer.optimizer.step()
        marks.append(time.perf_counter())
        if timed:
            for name, begin, end in zip(phases, marks, marks[1:]):
                clock[name] += end - begin

    for _ in range(5):
        step(False)
    start = time.perf_counter()
    for _ in range(steps):
        step(True)
    wall = time.perf_counter() - start
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(steps):
            step(False)
    matmul = dict.fromkeys(phases, 0.0)
    random = dict.fromkeys(phases, 0.0)
    total = dict.fromkeys(phases, 0.0)
    for event in profile.events():
        phase = _phase_of(event, phases)
        if phase is None:
            continue
        if event.name in phases:
            total[phase] += event.cpu_time_total
        elif event.name in MATMUL_OPS:
            matmul[phase] += event.self_cpu_time_total
        elif event.name in RANDOM_OPS:
            random[phase] += event.self_cpu_time_total
    result = {"step_ms": 1e3 * wall / steps, "phases": {}}
    for name in phases:
        share_matmul = matmul[name] / total[name] if total[name] else 0.0
        share_random = random[name] / total[name] if total[name] else 0.0
        result["phases"][name] = {
            "ms": 1e3 * clock[name] / steps,
            "matmul_share": share_matmul,
            "random_share": share_random,
        }
    result["other_ms"] = result["step_ms"] - sum(p["ms"] for p in result["phases"].values())
    return result


def _phase_of(event, phases) -> str | None:
    while event is not None:
        if event.name in phases:
            return event.name
        event = event.cpu_parent
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--images", type=int, default=5000, help="images per round of every lever")
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out")
    parser.add_argument(
        "--naive-compile",
        action="store_true",
        help="also torch.compile the objective as the Trainer calls it",
    )
    parser.add_argument(
        "--warm-cache",
        action="store_true",
        help="keep torch's compile cache (default: a fresh one)",
    )
    parser.add_argument("--profile-steps", type=int, default=40)
    arguments = parser.parse_args()
    if not arguments.warm_cache:  # read by inductor at its first compile
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(
            prefix="bench-step-speed-inductor-"
        )
    if not MNIST_DIR.is_dir():
        sys.exit(f"MNIST not found in {MNIST_DIR}")
    torch.set_num_threads(BASE_THREADS)
    started = time.perf_counter()
    figures: dict = {
        "load_average_start": load_average(),
        "rounds": arguments.rounds,
        "images_per_round": arguments.images,
    }
    print(f"load average (1, 5, 15 min) at the start: {figures['load_average_start']}", flush=True)
    preset = load_preset(PRESET)
    config = dataclasses.replace(
        preset.config, data=dataclasses.replace(preset.config.data, data_dir=str(MNIST_DIR))
    )
    data = load_data(config.data)
    models = {
        "one-layer": dataclasses.replace(
            config, model=dataclasses.replace(config.model, **ONE_LAYER)
        ),
        "two-layer": config,
    }

    levers: list[Lever] = []
    for label, model_config in models.items():
        for batch in BATCHES:
            levers.append(
                Lever(
                    label,
                    f"batch {batch}",
                    lever_config(model_config, batch, arguments.images),
                    data,
                )
            )
        base = lever_config(model_config, BATCHES[0], arguments.images)
        levers.append(Lever(label, "2 threads", base, data, threads=2))
        if not arguments.no_compile:
            levers.append(Lever(label, "train.compile", base, data, compile="train.compile"))
        if arguments.naive_compile:
            levers.append(Lever(label, "naive compile", base, data, compile="naive"))
    for lever in levers:  # a warm-up round each, where a compiled lever compiles
        start = time.perf_counter()
        lever.round()
        lever.first_round_s = time.perf_counter() - start
        if lever.compile is not None:
            print(
                f"[{lever.model}] {lever.name}: first round {lever.first_round_s:.1f} s", flush=True
            )

    ceilings: dict[int, list[float]] = {1: [], 2: []}
    for index in range(arguments.rounds):
        for threads in ceilings:
            ceilings[threads].append(matmul_gflops(threads))
        shift = index % len(levers)
        for lever in levers[shift:] + levers[:shift]:
            rate = lever.round()
            lever.rates.append(rate)
            lever.shares.append(lever.flops * rate / 1e9 / ceilings[lever.threads][-1])
        print(
            f"round {index + 1}/{arguments.rounds}: ceiling {ceilings[1][-1]:.1f} (1 thread), "
            f"{ceilings[2][-1]:.1f} (2 threads) GFLOP/s; load {load_average()}",
            flush=True,
        )

    figures["matmul_ceiling_gflop_per_s"] = {
        f"{threads}_threads": statistics.median(v) for threads, v in ceilings.items()
    }
    figures["matmul_ceiling_rounds"] = {f"{threads}_threads": v for threads, v in ceilings.items()}
    print(
        f"\nmedian float32 matmul ceiling: {figures['matmul_ceiling_gflop_per_s']['1_threads']:.1f} GFLOP/s on one thread, "
        f"{figures['matmul_ceiling_gflop_per_s']['2_threads']:.1f} on two"
    )
    print(
        f"{'model':10} {'lever':22} {'steps/s':>8} {'images/s':>9} {'GFLOP/s':>8} {'share':>6} {'x base':>7} {'compile s':>9}"
    )
    results = {}
    for label in models:
        base = next(
            lever
            for lever in levers
            if lever.model == label and lever.name == f"batch {BATCHES[0]}"
        )
        for lever in (lever for lever in levers if lever.model == label):
            rate = statistics.median(lever.rates)
            images = rate * lever.batch_size
            # The speed-up in images/s, as the median of the rounds' ratios to the base lever.
            ratio = statistics.median(
                r * lever.batch_size / (b * base.batch_size)
                for r, b in zip(lever.rates, base.rates)
            )
            entry = {
                "batch_size": lever.batch_size,
                "threads": lever.threads,
                "compile": lever.compile,
                "mflop_per_step": lever.flops / 1e6,
                "steps_per_s": rate,
                "images_per_s": images,
                "gflop_per_s": lever.flops * rate / 1e9,
                "share_of_ceiling": statistics.median(lever.shares),
                "images_per_s_over_base": ratio,
                "compile_seconds": lever.compile_seconds,
                "rates": lever.rates,
            }
            results.setdefault(label, {})[lever.name] = entry
            compile_text = (
                f"{lever.compile_seconds:9.1f}" if lever.compile_seconds is not None else f"{'':9}"
            )
            print(
                f"{label:10} {lever.name:22} {rate:8.1f} {images:9,.0f} {entry['gflop_per_s']:8.1f} "
                f"{entry['share_of_ceiling']:6.0%} {ratio:7.2f} {compile_text}"
            )
            if lever.compile_seconds is not None and ratio > 1:
                saved = 30 * 60 * (1 - 1 / ratio)
                entry["seconds_saved_in_30_min"] = saved
                print(
                    f"{'':33} pays back in 30 minutes if {lever.compile_seconds:.0f} s < {saved:.0f} s saved"
                )
    figures["levers"] = results

    print(
        "\nwhere a batch-100 step's time goes (one thread; phases by the clock, shares from torch.profiler):"
    )
    figures["breakdown"] = {}
    for label, model_config in models.items():
        lever = Lever(
            label, "profile", lever_config(model_config, BATCHES[0], arguments.images), data
        )
        breakdown = phase_breakdown(lever, arguments.profile_steps)
        figures["breakdown"][label] = breakdown
        parts = ", ".join(
            f"{name} {p['ms']:.2f} ms ({p['ms'] / breakdown['step_ms']:.0%}; matmul {p['matmul_share']:.0%}, random draws {p['random_share']:.0%})"
            for name, p in breakdown["phases"].items()
        )
        print(
            f"[{label}] {breakdown['step_ms']:.2f} ms a step: {parts}; between phases {breakdown['other_ms']:.2f} ms"
        )
    figures["load_average_end"] = load_average()
    figures["total_minutes"] = (time.perf_counter() - started) / 60
    print(
        f"load average at the end: {figures['load_average_end']}; total {figures['total_minutes']:.1f} min"
    )
    write_results("step_speed", figures)


if __name__ == "__main__":
    main()
