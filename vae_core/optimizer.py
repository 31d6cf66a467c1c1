"""Adam on torch's fused kernel, without going through torch.optim.

Every torch.optim optimizer imports torch._dynamo on its first step: 1.9 s on a 2-core machine
(torch 2.13), most of the wait between pressing Train in a fresh window and its first curves,
and of a headless run's start. This class makes the same kernel call as
`torch.optim.Adam(fused=True)` with the same inputs, so its updates are identical bit for bit,
and its state dict has torch.optim's layout, so checkpoints written by either resume with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from vae_core.errors import VaeStudioError

_MOMENTS = ("exp_avg", "exp_avg_sq")


class Adam:
    """Adam (Kingma & Ba, 2015) over one group of parameters; `lr` may change between steps."""

    def __init__(
        self,
        parameters: Iterable[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        if not lr > 0:
            raise VaeStudioError(f"learning rate must be positive, got {lr}")
        self.parameters = list(parameters)
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
        """torch.optim's layout: the tensors by parameter index, the settings in one group."""
        group = {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "params": list(range(len(self.parameters)))}
        return {"state": {index: dict(state) for index, state in self.state.items()}, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Take the state of `state_dict()`, or of a one-group `torch.optim.Adam`."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.parameters):
            raise VaeStudioError("the optimizer state does not match this model's parameters")
        state = {}
        for index, saved in state_dict["state"].items():
            index = int(index)
            if not 0 <= index < len(self.parameters) or set(saved) != {"step", *_MOMENTS}:
                raise VaeStudioError("the optimizer state does not match this model's parameters")
            parameter = self.parameters[index]
            if any(saved[name].shape != parameter.shape for name in _MOMENTS):
                raise VaeStudioError("the optimizer state does not match this model's parameters")
            state[index] = {
                "step": torch.as_tensor(saved["step"], dtype=torch.float32).to(parameter.device),
                **{name: saved[name].to(device=parameter.device, dtype=parameter.dtype) for name in _MOMENTS},
            }
        group = groups[0]
        self.lr = float(group["lr"])
        self.betas = (float(group["betas"][0]), float(group["betas"][1]))
        self.eps = float(group["eps"])
        self.state = state
