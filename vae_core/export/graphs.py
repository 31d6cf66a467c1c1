"""The encoder and the decoder of a model as the graphs that ONNX and torch.export take: plain
tensors in and out, the batch dimension free.

Gaussian families (vae, hvae): the encoder maps images x (B, C, H, W) to q(z|x)'s `mean` and
`log_var` (B, D); the decoder maps codes z (B, D) to the decoded mean image (B, C, H, W) in [0, 1].
The conditional VAE takes the class label `y` (B,) int64 beside x and z. VQ-VAE's encoder gives
the code indices (B, N) int64 and its decoder takes them."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vae_core.models import LatentModel

# The largest difference from PyTorch's outputs an exported graph may show.
TOLERANCE = 1e-4


@dataclass(frozen=True)
class Graph:
    name: str  # "encoder" or "decoder": the file's stem
    module: nn.Module
    inputs: dict[str, torch.Tensor]  # example inputs by name, batch first
    outputs: tuple[str, ...]

    def dynamic_shapes(self) -> tuple[dict[int, torch.export.Dim], ...]:
        """Every input's first dimension is the one free batch size (in `inputs`' order)."""
        batch = torch.export.Dim("batch")
        return tuple({0: batch} for _ in self.inputs)

    def reference(self) -> list[torch.Tensor]:
        with torch.no_grad():
            produced = self.module(*self.inputs.values())
        return list(produced) if isinstance(produced, tuple) else [produced]


class _GaussianEncoder(nn.Module):
    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, x, y=None):
        posterior = self.model.encode(x, y)
        return posterior.mean, posterior.log_var


class _Decoder(nn.Module):
    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, z, y=None):
        return self.model.decode_mean(z, y)


class _CodeEncoder(nn.Module):
    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.code_indices(x)


class _CodeDecoder(nn.Module):
    def __init__(self, model: LatentModel):
        super().__init__()
        self.model = model

    def forward(self, indices):
        return self.model.decode_indices(indices)


def model_graphs(model: LatentModel, images: torch.Tensor, labels: torch.Tensor) -> list[Graph]:
    """The encoder and decoder graphs with example inputs from `images` (B, C, H, W) in [0, 1] and
    their `labels` (B,)."""
    model = model.cpu().eval()
    with torch.no_grad():
        if model.has_codebook:
            indices = model.code_indices(images)
            return [
                Graph("encoder", _CodeEncoder(model), {"x": images}, ("indices",)),
                Graph("decoder", _CodeDecoder(model), {"indices": indices}, ("image",)),
            ]
        extra = {"y": labels.long()} if model.conditional else {}
        codes = model.encode(images, labels.long() if model.conditional else None).mean
    return [
        Graph("encoder", _GaussianEncoder(model), {"x": images, **extra}, ("mean", "log_var")),
        Graph("decoder", _Decoder(model), {"z": codes, **extra}, ("image",)),
    ]


def largest_difference(found: list, expected: list[torch.Tensor]) -> float:
    """The largest absolute difference between outputs (integer outputs compared as numbers)."""
    return max(
        float((torch.as_tensor(a).double() - b.detach().double()).abs().max())
        for a, b in zip(found, expected)
    )
