"""Choosing the device a run trains on."""

from __future__ import annotations

import torch

from vae_core.choices import check_choice
from vae_core.errors import VaeStudioError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    check_choice("device", name, DEVICE_CHOICES)
    if name == "cuda" and not torch.cuda.is_available():
        raise VaeStudioError("device 'cuda' was asked for but no CUDA device is available")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
