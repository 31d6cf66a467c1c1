"""The training objective under torch.compile, drawing its noise from the trainer's own generator.

Dynamo cannot trace a `torch.Generator` passed to `torch.randn`: each draw breaks the graph, and
the pieces measured slower than eager with a long compile (benchmarks/bench_step_speed.py). So the
compiled loss draws from the device's default generator (generator=None), inductor keeps torch's
own random kernels (`fallback_random`), and around each call the default generator takes the
trainer's generator's state and gives the advanced state back: the draws are the very numbers an
eager step takes from the trainer's stream, which a checkpoint saves and a resumed run continues.
The default generator is borrowed for the call: no other thread may draw from it meanwhile (the
window, whose threads do, trains eagerly).

Only whole batches of the compiled size go through it (a short last batch would recompile); one
process only (a DDP-wrapped objective is left eager); where torch.compile cannot run (no C++
compiler, an op inductor cannot lower, a device without a default generator here), one line says
so and training goes on eagerly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class _DefaultDraws(nn.Module):
    """The model's loss with its draws from the default generator: what dynamo traces whole."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, y, beta):
        return self.model.loss(x, y, beta=beta, generator=None)


def default_generator(device: torch.device) -> torch.Generator | None:
    """The generator that `torch.randn(..., generator=None)` draws from on `device`."""
    if device.type == "cpu":
        return torch.default_generator
    if device.type == "cuda":
        return torch.cuda.default_generators[
            device.index if device.index is not None else torch.cuda.current_device()
        ]
    return None


def compile_unavailable(device: torch.device, world_size: int) -> str | None:
    """Why the objective cannot be compiled here, or None."""
    if world_size > 1:
        return "torch.compile is used by a single process only"
    if default_generator(device) is None:
        return f"torch.compile is not used on {device.type}"
    return None


class CompiledObjective:
    """Called as the trainer calls its objective: `(x, y, beta, generator) -> terms`."""

    def __init__(
        self, eager: Callable, model: nn.Module, batch_size: int, say: Callable[[str], None]
    ):
        self.eager = eager
        self.batch_size = batch_size
        self.say = say
        # Static shapes: a trainer of another batch size in the same process (a benchmark's) compiles
        # its own graph, where dynamo would otherwise make the batch dimension symbolic, and
        # symbolic sizes failed in torch.randn's tracing.
        self._compiled = torch.compile(
            _DefaultDraws(model), dynamic=False, options={"fallback_random": True}
        )

    @property
    def active(self) -> bool:
        return self._compiled is not None

    def __call__(self, x, y, beta, generator):
        if self._compiled is None or len(x) != self.batch_size or generator is None:
            return self.eager(x, y, beta, generator)
        default = default_generator(x.device)
        outside = default.get_state()
        default.set_state(generator.get_state())
        try:
            # β as a tensor: a warm-up changes it every step, and a new constant would recompile.
            terms = self._compiled(x, y, torch.tensor(float(beta), device=x.device))
        except (
            Exception
        ) as error:  # inductor fails in many ways (no C++ compiler, an op it cannot lower)
            default.set_state(outside)
            self._compiled = None
            self.say(
                f"note: torch.compile did not run ({' '.join(f'{type(error).__name__}: {error}'.split())[:200]}); training eagerly"
            )
            return self.eager(x, y, beta, generator)
        generator.set_state(default.get_state())
        default.set_state(outside)
        return terms


def compiled_objective(
    eager: Callable,
    model: nn.Module,
    device: torch.device,
    world_size: int,
    batch_size: int,
    say: Callable[[str], None],
) -> Callable:
    """`eager` compiled where it can be here; else `eager`, with one line saying why."""
    reason = compile_unavailable(device, world_size)
    if reason is not None:
        say(f"note: {reason}; training eagerly")
        return eager
    say(
        "note: compiling the training step with torch.compile: the first step takes tens of seconds"
    )
    return CompiledObjective(eager, model, batch_size, say)
