"""Adam on torch's fused kernel, without going through torch.optim.

Every torch.optim optimizer imports torch._dynamo on its first step: 1.9 s on a 2-core machine
(torch 2.13), most of the wait between pressing Train in a fresh window and its first curves,
and of a headless run's start. This class makes the same kernel call as
`torch.optim.Adam(fused=True)` with the same inputs, so its updates are identical bit for bit,
and its state dict is the one that optimizer writes, so checkpoints resume with either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch

from vae_core.errors import VaeStudioError

_MOMENTS = ("exp_avg", "exp_avg_sq")
# The rest of the settings torch.optim.Adam(fused=True) saves: what this class always does.
_FIXED_SETTINGS = {
    "weight_decay": 0.0, "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
    "differentiable": False, "fused": True, "decoupled_weight_decay": False,
}  # fmt: skip


class Adam:
    """Adam (Kingma & Ba, 2015) over one group of parameters; `lr` may change between steps."""

    def __init__(
        self,
        parameters: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        if not lr > 0 or not math.isfinite(lr):
            raise VaeStudioError(f"learning rate must be a positive number, got {lr}")
        self.parameters = list(parameters)
        # The kernel takes one device and one dtype (torch.optim splits the call where they differ).
        if len({(parameter.device, parameter.dtype) for parameter in self.parameters}) > 1:
            raise VaeStudioError("the parameters to optimise must share one device and one dtype")
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        # By parameter index, created at a parameter's first gradient as torch.optim does.
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        indices = [index for index, parameter in enumerate(self.parameters) if parameter.grad is not None]
        if not indices:
            return
        states = [self._state_of(index) for index in indices]
        steps = [state["step"] for state in states]
        # The kernel reads the step count (for the bias corrections) but leaves counting to us.
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            [self.parameters[index] for index in indices],
            [self.parameters[index].grad for index in indices],
            [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states],
            [],
            steps,
            lr=self.lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )

    def _state_of(self, index: int) -> dict[str, torch.Tensor]:
        state = self.state.get(index)
        if state is None:
            parameter = self.parameters[index]
            state = {
                "step": torch.zeros((), dtype=torch.float32, device=parameter.device),
                **{name: torch.zeros_like(parameter, memory_format=torch.preserve_format) for name in _MOMENTS},
            }
            self.state[index] = state
        return state

    def state_dict(self) -> dict:
        """torch.optim's: the tensors by parameter index, the settings in one group."""
        group = {
            "lr": self.lr, "betas": self.betas, "eps": self.eps, **_FIXED_SETTINGS,
            "params": list(range(len(self.parameters))),
        }  # fmt: skip
        return {"state": {index: dict(state) for index, state in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Take the state of `state_dict()`, or of a one-group `torch.optim.Adam`; ValueError, as
        torch.optim's, when it does not fit these parameters."""
        try:
            (group,) = state_dict["param_groups"]
            count = len(group["params"])
            lr, betas, eps = float(group["lr"]), (float(group["betas"][0]), float(group["betas"][1])), float(group["eps"])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ValueError("the optimizer settings are not those of a one-group Adam") from None
        if count != len(self.parameters):
            raise ValueError(f"the optimizer state is for {count} parameters, this model has {len(self.parameters)}")
        state = {}
        for index, saved in state_dict["state"].items():
            index = int(index)
            parameter = self.parameters[index] if 0 <= index < len(self.parameters) else None
            if (
                parameter is None
                or set(saved) != {"step", *_MOMENTS}
                or torch.as_tensor(saved["step"]).numel() != 1
                or any(saved[name].shape != parameter.shape for name in _MOMENTS)
            ):
                raise ValueError(f"the optimizer state of parameter {index} does not fit this model")
            state[index] = {
                "step": torch.as_tensor(saved["step"]).reshape(()).to(device=parameter.device, dtype=torch.float32),
                **{name: saved[name].to(device=parameter.device, dtype=parameter.dtype) for name in _MOMENTS},
            }
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state = state
