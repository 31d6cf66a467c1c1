"""Adam from torch.optim: fused where the installed torch can fuse it, its default otherwise.

torch.optim imports torch._dynamo at an optimizer's first step: 1.7 to 1.9 s on a 2-core machine
(torch 2.13), the larger part of the wait between pressing Train in a fresh window and its first
curves. `warm_up_optimizer` pays that once, early, on whichever thread calls it.
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
) -> torch.optim.Adam:
    """Adam (Kingma & Ba, 2015) over one group of parameters; its lr is `param_groups[0]["lr"]`,
    read at every step, so a new value set between steps applies from the next one."""
    if not lr > 0 or not math.isfinite(lr):
        raise VaeStudioError(f"learning rate must be a positive number, got {lr}")
    parameters = list(parameters)
    fused = all(_fused_adam_runs(device, dtype) for device, dtype in {(p.device, p.dtype) for p in parameters})
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


def warm_up_optimizer() -> None:
    """Do now the slow one-off work of torch.optim's first step (its import of torch._dynamo, and
    finding out whether Adam fuses on the CPU), so that a run started later begins at once. A
    window calls it on a background thread as it opens: a thread's own first step then only waits
    for whatever of the import is left."""
    _fused_adam_runs(torch.device("cpu"), torch.float32)


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
        raise ValueError(f"the optimizer state is for {count} parameters, this model has {len(parameters)}")
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
