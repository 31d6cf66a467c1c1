"""Adam, in the fastest of three implementations that runs here, all with torch.optim.Adam's
updates and state layout (checkpoints resume with any of them):

1. `KernelAdam`: the fused Adam kernel that `torch.optim.Adam(fused=True)` calls, called directly
   (a private op, `torch._fused_adam_`, so behind a feature check). torch.optim imports
   torch._dynamo at an optimizer's first step: 1.7 to 1.9 s on a 2-core machine (torch 2.13), which
   a Train pressed as the window appears waits for (1.35 to 1.72 s against the 0.5 s target, with
   the import started on a background thread as the window opens); and its Python around the same
   kernel makes a step 6 to 9% slower (measured in benchmarks/bench_optimizer_start.py and
   alternating rounds of bench_core.py).
2. `torch.optim.Adam(fused=True)`, where torch has no such op but fuses Adam for the parameters.
3. `torch.optim.Adam` with torch's default implementation otherwise.

`warm_up_optimizer` pays torch.optim's one-off import early, where torch.optim is what runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping

import torch

from vae_core.errors import VaeStudioError

_MOMENTS = ("exp_avg", "exp_avg_sq")


def make_adam(
    parameters: Iterable[torch.Tensor],
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
):
    """Adam (Kingma & Ba, 2015) over one group of parameters; its lr is `param_groups[0]["lr"]`,
    read at every step, so a new value set between steps applies from the next one."""
    if not lr > 0 or not math.isfinite(lr):
        raise VaeStudioError(f"learning rate must be a positive number, got {lr}")
    parameters = list(parameters)
    kinds = {(p.device, p.dtype) for p in parameters}
    if len(kinds) == 1 and _kernel_adam_runs(*next(iter(kinds))):
        return KernelAdam(parameters, lr, betas, eps)
    fused = all(_fused_adam_runs(device, dtype) for device, dtype in kinds)
    # fused=None, not False, lets torch pick its foreach or for-loop implementation.
    return torch.optim.Adam(parameters, lr=float(lr), betas=betas, eps=eps, fused=fused or None)


@functools.cache
def _fused_adam_runs(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether `torch.optim.Adam(fused=True)` steps tensors of this device and dtype. torch accepts
    the flag for any tensor and refuses unsupported ones only at the first step: so take one."""
    probe = torch.zeros(1, device=device, dtype=dtype, requires_grad=True)
    probe.grad = torch.zeros_like(probe)
    try:
        torch.optim.Adam([probe], fused=True).step()
    except RuntimeError:
        return False
    return True


@functools.cache
def _kernel_adam_runs(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether this torch has the fused Adam op, and it steps tensors of this device and dtype."""
    kernel = getattr(torch, "_fused_adam_", None)
    if kernel is None:
        return False
    probe = torch.zeros(1, device=device, dtype=dtype)
    try:
        KernelAdam([probe.requires_grad_()], lr=1e-3)._update(
            [probe], [torch.zeros_like(probe)], [0]
        )
    except (RuntimeError, TypeError, NotImplementedError):
        return False
    return True


def warm_up_optimizer() -> None:
    """Where torch.optim is what runs, do now the slow one-off work of its first step (its import of
    torch._dynamo, and finding out whether Adam fuses on the CPU), so that a run started later
    begins at once. A window calls it on a background thread as it opens."""
    cpu = torch.device("cpu")
    if not _kernel_adam_runs(cpu, torch.float32):
        _fused_adam_runs(cpu, torch.float32)


def load_adam_state(optimizer: torch.optim.Adam, state_dict: Mapping) -> None:
    """Load the state of a one-group Adam (torch.optim's layout, the one checkpoints have always
    stored) after checking it against the optimizer's parameters: a checkpoint is untrusted, and
    torch.optim checks no more than the parameter count. ValueError, as torch.optim's, when it
    does not fit. The saved learning rate, betas and eps come back; the optimizer keeps its own
    implementation (fused or not, whatever the saving machine had). It gets copies, as it updates
    its state in place: the caller's tensors stay as they were."""
    parameters = optimizer.param_groups[0]["params"]
    try:
        (saved_group,) = state_dict["param_groups"]
        count = len(saved_group["params"])
        settings = {
            "lr": float(saved_group["lr"]),
            "betas": (float(saved_group["betas"][0]), float(saved_group["betas"][1])),
            "eps": float(saved_group["eps"]),
        }
        saved_states = {int(index): saved for index, saved in state_dict["state"].items()}
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise ValueError("the optimizer settings are not those of a one-group Adam") from None
    if count != len(parameters):
        raise ValueError(
            f"the optimizer state is for {count} parameters, this model has {len(parameters)}"
        )
    states = {}
    for index, saved in saved_states.items():
        if not _fits(saved, parameters[index] if 0 <= index < len(parameters) else None):
            raise ValueError(f"the optimizer state of parameter {index} does not fit this model")
        states[index] = {
            "step": saved["step"].to(torch.float32).reshape(()).clone(),
            **{name: saved[name].clone() for name in _MOMENTS},
        }
    group = {**optimizer.param_groups[0], **settings, "params": list(range(count))}
    optimizer.load_state_dict({"state": states, "param_groups": [group]})


def _fits(saved, parameter: torch.Tensor | None) -> bool:
    return (
        parameter is not None
        and isinstance(saved, Mapping)
        and set(saved) == {"step", *_MOMENTS}
        and all(isinstance(value, torch.Tensor) for value in saved.values())
        and saved["step"].numel() == 1
        and all(saved[name].shape == parameter.shape for name in _MOMENTS)
    )


# The settings torch.optim.Adam(fused=True) saves besides lr, betas and eps: what KernelAdam does.
_KERNEL_SETTINGS = {
    "weight_decay": 0.0,
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": True,
    "decoupled_weight_decay": False,
}


class KernelAdam:
    """torch.optim.Adam(fused=True)'s kernel call without torch.optim: the same inputs, so the same
    updates bit for bit; the same `param_groups`, `state_dict` and `load_state_dict` layout."""

    def __init__(
        self, parameters: list[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8
    ):
        self.parameters = list(parameters)
        group = {
            "lr": float(lr),
            "betas": (float(betas[0]), float(betas[1])),
            "eps": float(eps),
            **_KERNEL_SETTINGS,
        }
        self.param_groups = [{**group, "params": self.parameters}]
        # By parameter index, created at a parameter's first gradient as torch.optim does.
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        indices = [
            index for index, parameter in enumerate(self.parameters) if parameter.grad is not None
        ]
        if indices:
            parameters = [self.parameters[index] for index in indices]
            self._update(parameters, [parameter.grad for parameter in parameters], indices)

    def _update(self, parameters, gradients, indices) -> None:
        states = [self._state_of(index, parameter) for index, parameter in zip(indices, parameters)]
        steps = [state["step"] for state in states]
        # The kernel reads the step count (for the bias corrections) but leaves counting to us.
        torch._foreach_add_(steps, 1)
        group = self.param_groups[0]
        torch._fused_adam_(
            parameters,
            gradients,
            [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states],
            [],
            steps,
            lr=group["lr"],
            beta1=group["betas"][0],
            beta2=group["betas"][1],
            weight_decay=0.0,
            eps=group["eps"],
            amsgrad=False,
            maximize=False,
        )

    def _state_of(self, index: int, parameter: torch.Tensor) -> dict[str, torch.Tensor]:
        if index not in self.state:
            self.state[index] = {
                "step": torch.zeros((), dtype=torch.float32, device=parameter.device),
                **{
                    name: torch.zeros_like(parameter, memory_format=torch.preserve_format)
                    for name in _MOMENTS
                },
            }
        return self.state[index]

    def state_dict(self) -> dict:
        group = {**self.param_groups[0], "params": list(range(len(self.parameters)))}
        return {
            "state": {index: dict(state) for index, state in self.state.items()},
            "param_groups": [group],
        }

    def load_state_dict(self, state_dict: Mapping) -> None:
        """A state checked by `load_adam_state`: its tensors, moved to the parameters' device."""
        (group,) = state_dict["param_groups"]
        self.param_groups[0].update(lr=group["lr"], betas=group["betas"], eps=group["eps"])
        self.state = {
            int(index): {
                name: value.to(device=self.parameters[int(index)].device)
                for name, value in saved.items()
            }
            for index, saved in state_dict["state"].items()
        }
