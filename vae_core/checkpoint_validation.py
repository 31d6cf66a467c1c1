"""Checks of everything a checkpoint file claims, before any of it is used: a checkpoint is untrusted
input, and torch checks little when it loads weights or optimizer state (a NaN or integer weight,
an index past the data, a negative step all load silently and fail later, far from the file).

Each check raises VaeStudioError with one line naming the file and the first problem found."""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError
from vae_core.limits import parse_json
from vae_core.models import LatentModel

MODEL_PREFIX, OPTIMIZER_PREFIX, COUNTER_PREFIX = "model.", "optimizer.state.", "counter."
HISTORY_NAME = "history.metrics"

# What Trainer.counters() writes: each counter's dtype and number of dimensions.
COUNTER_LAYOUT = {
    "step": (torch.int64, 0),
    "epoch": (torch.int64, 0),
    "position": (torch.int64, 0),
    "order": (torch.int64, 1),
    "generator_state": (torch.uint8, 1),
    "wall_time_s": (torch.float64, 0),
    "beta_base": (torch.float64, 0),
}
_MOMENTS = ("exp_avg", "exp_avg_sq")
# Adam's step count: float32 in torch.optim and KernelAdam; the others are read as it.
_STEP_DTYPES = (torch.float32, torch.float64, torch.int64)
# A parameter index without leading zeros, so that two names never mean the same state.
_OPTIMIZER_NAME = re.compile(r"optimizer\.state\.(0|[1-9][0-9]{0,8})\.(exp_avg|exp_avg_sq|step)")


def check_tensor_names(path: Path, names) -> None:
    for name in names:
        known = (
            (name.startswith(MODEL_PREFIX) and len(name) > len(MODEL_PREFIX))
            or _OPTIMIZER_NAME.fullmatch(name)
            or (name.startswith(COUNTER_PREFIX) and name[len(COUNTER_PREFIX) :] in COUNTER_LAYOUT)
            or name == HISTORY_NAME
        )
        if not known:
            raise VaeStudioError(
                f"{path}: unknown tensor {name!r} (not a weight, optimizer state, counter or history)"
            )


def check_weights(path: Path, model: LatentModel, weights: dict[str, torch.Tensor]) -> None:
    """The weights are exactly those of the model the config builds: names, shapes, dtypes, and
    finite numbers."""
    expected = model.state_dict()
    for name in weights:
        if name not in expected:
            raise VaeStudioError(
                f"{path}: tensor {MODEL_PREFIX + name!r} is not a weight of the model in its config"
            )
    for name, wanted in expected.items():
        found = weights.get(name)
        label = f"{path}: tensor {MODEL_PREFIX + name!r}"
        if found is None:
            raise VaeStudioError(f"{label}, a weight of the model in its config, is missing")
        if found.shape != wanted.shape:
            raise VaeStudioError(
                f"{label} has shape {_shape(found)}, the model in its config expects {_shape(wanted)}"
            )
        if found.dtype != wanted.dtype:
            raise VaeStudioError(
                f"{label} is {_dtype(found)}, the model in its config expects {_dtype(wanted)}"
            )
        if found.is_floating_point() and not torch.isfinite(found).all():
            raise VaeStudioError(f"{label} holds NaN or infinite values")


def check_counters(path: Path, counters: dict[str, torch.Tensor], config: RunConfig) -> None:
    """All of Trainer.counters() or none of them (a checkpoint saved for viewing only), each as the
    trainer writes it and within the range a resumed run can continue from."""
    if not counters:
        return
    for name, (dtype, dimensions) in COUNTER_LAYOUT.items():
        value = counters.get(name)
        label = f"{path}: counter '{name}'"
        if value is None:
            raise VaeStudioError(f"{label} is missing")
        if value.dtype != dtype or value.dim() != dimensions:
            kind = "a scalar" if dimensions == 0 else "a 1-D tensor"
            raise VaeStudioError(
                f"{label} must be {kind} of {_dtype(dtype)}, found {_dtype(value)} of shape {_shape(value)}"
            )
    for name in ("step", "epoch", "wall_time_s", "beta_base"):
        value = counters[name].item()
        if not (math.isfinite(value) and value >= 0):
            raise VaeStudioError(
                f"{path}: counter '{name}' must be a finite number >= 0, found {value}"
            )
    order = counters["order"]
    if len(order) == 0 or not torch.equal(torch.sort(order).values, torch.arange(len(order))):
        raise VaeStudioError(f"{path}: counter 'order' is not an ordering of 0..{len(order) - 1}")
    # The position runs past the order by up to a batch less one when the last batch is short.
    last_position = len(order) + config.train.batch_size - 1
    position = counters["position"].item()
    if not 0 <= position <= last_position:
        raise VaeStudioError(
            f"{path}: counter 'position' is {position}, outside 0..{last_position}"
        )
    state_size = len(counters["generator_state"])
    if state_size not in generator_state_sizes():
        sizes = " or ".join(map(str, sorted(generator_state_sizes())))
        raise VaeStudioError(
            f"{path}: counter 'generator_state' holds {state_size} bytes, not the {sizes} of a"
            " random generator's state"
        )


def generator_state_sizes() -> set[int]:
    """The bytes of a torch.Generator's state on the devices a run may have trained on: the CPU's
    Mersenne twister, CUDA's Philox (seed and offset), and MPS's where this machine has it."""
    sizes = {torch.Generator().get_state().numel(), 16}
    if torch.backends.mps.is_available():
        sizes.add(torch.Generator("mps").get_state().numel())
    return sizes


def parse_optimizer_settings(path: Path, settings_json: str | None):
    """The optimizer's param groups as the metadata holds them (None: no optimizer saved), unchecked."""
    if settings_json is None:
        return None
    return parse_json(settings_json, f"{path}: the optimizer settings in the checkpoint")


def read_optimizer_state(
    path: Path, param_groups, tensors: dict[str, torch.Tensor], model: LatentModel
) -> dict | None:
    """The optimizer's state in torch.optim's layout, checked against the model's parameters; None
    where the checkpoint has none."""
    if param_groups is None:
        if tensors:
            raise VaeStudioError(
                f"{path}: the checkpoint has optimizer state but not the optimizer's settings"
            )
        return None
    parameters = list(model.parameters())
    _check_param_groups(path, param_groups, len(parameters))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = _OPTIMIZER_NAME.fullmatch(name).groups()
        state.setdefault(int(index), {})[key] = value
    for index, saved in sorted(state.items()):
        label = f"{path}: the optimizer state of parameter {index}"
        if index >= len(parameters):
            raise VaeStudioError(
                f"{label} is for a parameter the model in its config does not have"
            )
        missing = [key for key in ("step", *_MOMENTS) if key not in saved]
        if missing:
            raise VaeStudioError(f"{label} lacks '{missing[0]}'")
        step = saved["step"]
        if (
            step.dtype not in _STEP_DTYPES
            or step.numel() != 1
            or not (math.isfinite(step.item()) and step.item() >= 0)
        ):
            raise VaeStudioError(f"{label} has a step that is not one finite number >= 0")
        parameter = parameters[index]
        for key in _MOMENTS:
            moment = saved[key]
            if moment.shape != parameter.shape or moment.dtype != parameter.dtype:
                raise VaeStudioError(
                    f"{label}: '{key}' is {_dtype(moment)} of shape {_shape(moment)}, the parameter is"
                    f" {_dtype(parameter)} of shape {_shape(parameter)}"
                )
            if not torch.isfinite(moment).all() or (key == "exp_avg_sq" and (moment < 0).any()):
                raise VaeStudioError(
                    f"{label}: '{key}' holds values Adam never makes (NaN, infinite or negative)"
                )
    return {"state": state, "param_groups": param_groups}


def _check_param_groups(path: Path, param_groups, parameter_count: int) -> None:
    label = f"{path}: the optimizer settings"
    if not (
        isinstance(param_groups, list)
        and len(param_groups) == 1
        and isinstance(param_groups[0], dict)
    ):
        raise VaeStudioError(f"{label} are not those of a one-group Adam")
    group = param_groups[0]
    lr, betas, eps, params = (group.get(key) for key in ("lr", "betas", "eps", "params"))
    if not (_is_number(lr) and math.isfinite(lr) and lr > 0):
        raise VaeStudioError(f"{label} have a learning rate of {lr!r}, not a finite number > 0")
    if not (
        isinstance(betas, list)
        and len(betas) == 2
        and all(_is_number(b) and 0 <= b < 1 for b in betas)
    ):
        raise VaeStudioError(f"{label} have betas of {betas!r}, not two numbers in [0, 1)")
    if not (_is_number(eps) and math.isfinite(eps) and eps > 0):
        raise VaeStudioError(f"{label} have an eps of {eps!r}, not a finite number > 0")
    if params != list(range(parameter_count)):
        raise VaeStudioError(
            f"{label} are not for the {parameter_count} parameters of the model in its config"
        )


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(map(str, tensor.shape)) + ")"


def _dtype(value: torch.Tensor | torch.dtype) -> str:
    dtype = value if isinstance(value, torch.dtype) else value.dtype
    return str(dtype).removeprefix("torch.")
