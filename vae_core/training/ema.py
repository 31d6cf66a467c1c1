"""An exponential moving average of a model's weights (as Efficient-VDVAE and NVAE evaluate):
training steps the raw weights; the average, smoother than any one step's weights, is what is
evaluated, kept as best, and loaded by `evaluate`. Checkpoints carry it beside the raw weights."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

EMA_PREFIX = "ema."


class WeightAverage:
    """avg ← d·avg + (1 − d)·w after every step, over the model's floating-point state (weights
    and buffers), with d = min(decay, (1 + n) / (10 + n)) at the n-th update: early averages do
    not drag the random initialisation along for thousands of steps."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.average = {
            name: value.detach().clone()
            for name, value in model.state_dict().items()
            if value.is_floating_point()
        }

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        state = model.state_dict()
        names = list(self.average)
        torch._foreach_lerp_(
            [self.average[name] for name in names], [state[name] for name in names], weight
        )
        self.updates += 1

    def state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the averaged weights, named as the model's state."""
        return {name: value.detach().to("cpu", copy=True) for name, value in self.average.items()}

    @torch.no_grad()
    def load(self, state: dict[str, torch.Tensor], updates: int) -> None:
        for name, value in self.average.items():
            value.copy_(state[name])
        self.updates = updates

    @contextlib.contextmanager
    def swapped_in(self, model: nn.Module):
        """The model holds the averaged weights inside the block, its own again after it."""
        raw = {name: value.detach().clone() for name, value in model.state_dict().items()}
        model.load_state_dict({**raw, **self.average})
        try:
            yield model
        finally:
            model.load_state_dict(raw)
