"""Choosing the device a run trains on, and the precision it computes in."""

from __future__ import annotations

import contextlib

import torch

from vae_core.choices import check_choice
from vae_core.errors import VaeStudioError


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)  # absent from some builds
    return backend is not None and backend.is_available()


# Each device by name, with the test of whether this machine has it ("auto" is always there).
_AVAILABLE = {"cpu": lambda: True, "cuda": torch.cuda.is_available, "mps": _mps_available}
DEVICE_CHOICES = ("auto", *_AVAILABLE)
# Precisions by name: None keeps float32; otherwise the dtype autocast computes in.
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def device_available(name: str) -> bool:
    return name == "auto" or _AVAILABLE[check_choice("device", name, DEVICE_CHOICES)]()


def available_devices() -> list[str]:
    return [name for name in DEVICE_CHOICES if device_available(name)]


def resolve_device(name: str) -> torch.device:
    """The device `name` means here. "auto" is CUDA where present, else the CPU: never MPS, which
    lacks the float64 that importance-sampled evaluation needs."""
    if not device_available(name):
        raise VaeStudioError(
            f"device '{name}' was asked for but this machine (torch {torch.__version__}) has none"
        )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast(device: torch.device, precision: str):
    """A factory of contexts that run a training step's forward pass in `precision` on `device`
    (autocast: weights and optimizer stay float32), checked once here."""
    dtype = PRECISIONS[check_choice("precision", precision, PRECISIONS)]
    if dtype is None:
        return contextlib.nullcontext
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise VaeStudioError(
            f"precision '{precision}' needs a GPU with bfloat16, and {torch.cuda.get_device_name(device)} has none"
        )
    try:
        with torch.autocast(device.type, dtype=dtype):
            pass
    except (RuntimeError, ValueError) as error:  # a device autocast does not cover in this torch
        raise VaeStudioError(
            f"precision '{precision}' is not available on {device.type} with torch {torch.__version__}: {str(error).splitlines()[0]}"
        ) from None
    return lambda: torch.autocast(device.type, dtype=dtype)
