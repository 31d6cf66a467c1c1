"""Encoder and decoder networks by architecture name.

Every network takes `(input_shape, hidden, features, condition_dim)`: an encoder maps an image
(and an optional one-hot condition) to `features` numbers, a decoder maps `features` numbers
(and the condition) to a tensor of the image's shape.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vae_core.errors import VaeStudioError


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(size_in, size_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _with_condition(flat: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    return flat if condition is None else torch.cat([flat, condition], dim=-1)


class MlpEncoder(nn.Module):
    def __init__(self, input_shape, hidden, features, condition_dim=0):
        super().__init__()
        self.net = _mlp([math.prod(input_shape) + condition_dim, *hidden, features])

    def forward(self, x, condition=None):
        return self.net(_with_condition(x.flatten(1), condition))


class MlpDecoder(nn.Module):
    def __init__(self, input_shape, hidden, features, condition_dim=0):
        super().__init__()
        self.output_shape = tuple(input_shape)
        self.net = _mlp([features + condition_dim, *reversed(hidden), math.prod(input_shape)])

    def forward(self, z, condition=None):
        out = self.net(_with_condition(z, condition))
        return out.view(*z.shape[:-1], *self.output_shape)


class LinearEncoder(MlpEncoder):
    """An affine map: the exact posterior of a linear Gaussian decoder has this form."""

    def __init__(self, input_shape, hidden, features, condition_dim=0):
        super().__init__(input_shape, (), features, condition_dim)


class LinearDecoder(MlpDecoder):
    """An affine map from the code to the mean: probabilistic PCA when the likelihood is Gaussian."""

    def __init__(self, input_shape, hidden, features, condition_dim=0):
        super().__init__(input_shape, (), features, condition_dim)


def _conv_grid(input_shape) -> tuple[int, int]:
    _, height, width = input_shape
    if height % 4 or width % 4:
        raise VaeStudioError(f"the conv architecture needs image sides divisible by 4, got {height}x{width}")
    return height // 4, width // 4


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions, then dense layers; a condition enters as constant channels."""

    def __init__(self, input_shape, hidden, features, condition_dim=0):
        super().__init__()
        channels = input_shape[0] + condition_dim
        grid_h, grid_w = _conv_grid(input_shape)
        self.conv = nn.Sequential(
            nn.Conv2d(channels, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.dense = _mlp([64 * grid_h * grid_w, *hidden, features])

    def forward(self, x, condition=None):
        if condition is not None:
            planes = condition[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, planes], dim=1)
        return self.dense(self.conv(x))


class ConvDecoder(nn.Module):
    def __init__(self, input_shape, hidden, features, condition_dim=0):
        super().__init__()
        self.grid = _conv_grid(input_shape)
        self.dense = nn.Sequential(
            _mlp([features + condition_dim, *reversed(hidden), 64 * self.grid[0] * self.grid[1]]), nn.ReLU()
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, input_shape[0], 4, stride=2, padding=1),
        )

    def forward(self, z, condition=None):
        batch_shape = z.shape[:-1]
        h = self.dense(_with_condition(z, condition)).view(-1, 64, *self.grid)
        out = self.deconv(h)
        return out.view(*batch_shape, *out.shape[1:])


# Architecture name -> (encoder class, decoder class).
ARCHITECTURES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "mlp": (MlpEncoder, MlpDecoder),
    "conv": (ConvEncoder, ConvDecoder),
    "linear": (LinearEncoder, LinearDecoder),
}


def build_networks(arch, input_shape, hidden, latent_features, code_features, condition_dim=0):
    """The encoder (to `code_features`) and decoder (from `latent_features`) of an architecture."""
    if arch not in ARCHITECTURES:
        raise VaeStudioError(f"unknown architecture '{arch}' (choose from {', '.join(ARCHITECTURES)})")
    if any(size <= 0 for size in hidden):
        raise VaeStudioError(f"hidden layer sizes must be positive, got {list(hidden)}")
    encoder_class, decoder_class = ARCHITECTURES[arch]
    encoder = encoder_class(input_shape, tuple(hidden), code_features, condition_dim)
    decoder = decoder_class(input_shape, tuple(hidden), latent_features, condition_dim)
    return encoder, decoder
