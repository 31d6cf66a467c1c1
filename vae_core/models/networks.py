"""Encoder and decoder networks by architecture name.

Every network takes `(input_shape, hidden, features, condition_dim, activation)`: an encoder maps
an image (and an optional one-hot condition) to `features` numbers, a decoder maps `features`
numbers (and the condition) to a tensor of the image's shape. `activation` is the nonlinearity of
the dense layers (convolutions keep ReLU).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vae_core.choices import check_choice
from vae_core.errors import VaeStudioError

# The dense layers' nonlinearity by name: ReLU, or tanh as Burda et al. (2015) used.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Dense layers of the given sizes, `activation` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(size_in, size_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def _with_condition(flat: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    return flat if condition is None else torch.cat([flat, condition], dim=-1)


class MlpEncoder(nn.Module):
    def __init__(self, input_shape, hidden, features, condition_dim=0, activation=nn.ReLU):
        super().__init__()
        self.net = mlp([math.prod(input_shape) + condition_dim, *hidden, features], activation)

    def forward(self, x, condition=None):
        return self.net(_with_condition(x.flatten(1), condition))


class MlpDecoder(nn.Module):
    def __init__(self, input_shape, hidden, features, condition_dim=0, activation=nn.ReLU):
        super().__init__()
        self.output_shape = tuple(input_shape)
        self.net = mlp(
            [features + condition_dim, *reversed(hidden), math.prod(input_shape)], activation
        )

    @torch.no_grad()
    def set_output_bias(self, mean_image: torch.Tensor, output_for_mean) -> None:
        """The output layer's bias such that it decodes to `mean_image` (C, H, W), pixel by pixel."""
        self.net[-1].bias.copy_(output_for_mean(mean_image).flatten())

    def forward(self, z, condition=None):
        out = self.net(_with_condition(z, condition))
        return out.view(*z.shape[:-1], *self.output_shape)


class LinearEncoder(MlpEncoder):
    """An affine map: the exact posterior of a linear Gaussian decoder has this form."""

    def __init__(self, input_shape, hidden, features, condition_dim=0, activation=nn.ReLU):
        super().__init__(input_shape, (), features, condition_dim, activation)


class LinearDecoder(MlpDecoder):
    """An affine map from the code to the mean: factor analysis when the likelihood is Gaussian (a noise variance per pixel)."""

    def __init__(self, input_shape, hidden, features, condition_dim=0, activation=nn.ReLU):
        super().__init__(input_shape, (), features, condition_dim, activation)
        self.latent_features = features

    def affine_map(
        self, condition: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The map as W (P, D) and the offset b (B, P) it adds (one row, or one per condition)."""
        (layer,) = self.net
        weight = layer.weight[:, : self.latent_features]
        offset = layer.bias[None, :]
        if condition is not None:
            offset = (
                offset
                + condition.to(layer.weight.dtype) @ layer.weight[:, self.latent_features :].T
            )
        return weight, offset


def _conv_grid(input_shape) -> tuple[int, int]:
    _, height, width = input_shape
    if height % 4 or width % 4:
        raise VaeStudioError(
            f"the conv architecture needs image sides divisible by 4, got {height}x{width}"
        )
    return height // 4, width // 4


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions, then dense layers; a condition enters as constant channels."""

    def __init__(self, input_shape, hidden, features, condition_dim=0, activation=nn.ReLU):
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
        self.dense = mlp([64 * grid_h * grid_w, *hidden, features], activation)

    def forward(self, x, condition=None):
        if condition is not None:
            planes = condition[:, :, None, None].expand(-1, -1, *x.shape[-2:])
            x = torch.cat([x, planes], dim=1)
        return self.dense(self.conv(x))


class ConvDecoder(nn.Module):
    def __init__(self, input_shape, hidden, features, condition_dim=0, activation=nn.ReLU):
        super().__init__()
        self.grid = _conv_grid(input_shape)
        self.dense = nn.Sequential(
            mlp(
                [features + condition_dim, *reversed(hidden), 64 * self.grid[0] * self.grid[1]],
                activation,
            ),
            nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, input_shape[0], 4, stride=2, padding=1),
        )

    @torch.no_grad()
    def set_output_bias(self, mean_image: torch.Tensor, output_for_mean) -> None:
        """A transposed convolution has one bias per channel: it decodes to each channel's mean."""
        self.deconv[-1].bias.copy_(output_for_mean(mean_image.mean((1, 2))))

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


def _require_architecture(arch: str, hidden) -> None:
    check_choice("architecture", arch, ARCHITECTURES)
    if any(size <= 0 for size in hidden):
        raise VaeStudioError(f"hidden layer sizes must be positive, got {list(hidden)}")


def build_networks(
    arch, input_shape, hidden, latent_features, code_features, condition_dim=0, activation=nn.ReLU
):
    """The encoder (to `code_features`) and decoder (from `latent_features`) of an architecture."""
    _require_architecture(arch, hidden)
    encoder_class, decoder_class = ARCHITECTURES[arch]
    encoder = encoder_class(input_shape, tuple(hidden), code_features, condition_dim, activation)
    decoder = decoder_class(input_shape, tuple(hidden), latent_features, condition_dim, activation)
    return encoder, decoder


# Networks for discrete codes: the encoder gives N vectors of `code_dim` per image, (B, N, D),
# and the decoder takes (..., N, D). A dense architecture reads its output as a set of N
# vectors; the conv architecture keeps a grid (a vector per patch), N = (H/4)(W/4).


class SetEncoder(nn.Module):
    def __init__(self, flat_encoder: nn.Module, positions: int, code_dim: int):
        super().__init__()
        self.flat = flat_encoder
        self.positions = positions
        self.code_dim = code_dim

    def forward(self, x):
        # unflatten, not view(len(x), ...): the batch size stays free in exported graphs.
        return self.flat(x).unflatten(-1, (self.positions, self.code_dim))


class SetDecoder(nn.Module):
    def __init__(self, flat_decoder: nn.Module):
        super().__init__()
        self.flat = flat_decoder

    def set_output_bias(self, mean_image: torch.Tensor, output_for_mean) -> None:
        self.flat.set_output_bias(mean_image, output_for_mean)

    def forward(self, codes):
        return self.flat(codes.flatten(-2))


class ConvGridEncoder(nn.Module):
    """Two stride-2 convolutions and a 1x1 projection: a code vector per 4x4 patch."""

    def __init__(self, input_shape, code_dim):
        super().__init__()
        grid_h, grid_w = _conv_grid(input_shape)
        self.positions = grid_h * grid_w
        self.net = nn.Sequential(
            nn.Conv2d(input_shape[0], 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, code_dim, 1),
        )

    def forward(self, x):
        return self.net(x).flatten(2).transpose(1, 2)  # (B, h*w, D)


class ConvGridDecoder(nn.Module):
    def __init__(self, input_shape, code_dim):
        super().__init__()
        self.grid = _conv_grid(input_shape)
        self.net = nn.Sequential(
            nn.Conv2d(code_dim, 64, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(32, input_shape[0], 4, stride=2, padding=1),
        )

    @torch.no_grad()
    def set_output_bias(self, mean_image: torch.Tensor, output_for_mean) -> None:
        self.net[-1].bias.copy_(output_for_mean(mean_image.mean((1, 2))))

    def forward(self, codes):
        batch_shape = codes.shape[:-2]
        grid = codes.reshape(-1, *self.grid, codes.shape[-1]).permute(0, 3, 1, 2)  # (B, D, h, w)
        out = self.net(grid)
        return out.view(*batch_shape, *out.shape[1:])


def _set_networks(arch, input_shape, hidden, code_dim, positions, activation):
    encoder_class, decoder_class = ARCHITECTURES[arch]
    features = positions * code_dim
    encoder = SetEncoder(
        encoder_class(input_shape, tuple(hidden), features, 0, activation), positions, code_dim
    )
    return encoder, SetDecoder(decoder_class(input_shape, tuple(hidden), features, 0, activation))


def _grid_networks(arch, input_shape, hidden, code_dim, positions, activation):
    return ConvGridEncoder(input_shape, code_dim), ConvGridDecoder(input_shape, code_dim)


# Architecture name -> builder of (encoder, decoder) for codes made of several vectors.
CODE_ARCHITECTURES = {
    "mlp": _set_networks,
    "linear": _set_networks,
    "conv": _grid_networks,
}


def build_code_networks(arch, input_shape, hidden, code_dim, positions, activation=nn.ReLU):
    """Encoder to (B, N, code_dim) and decoder back; `positions` sets N for dense architectures
    (the conv grid has its own). The encoder's `positions` attribute says N."""
    _require_architecture(arch, hidden)
    if positions < 1:
        raise VaeStudioError(f"a code needs at least 1 position, got {positions}")
    return CODE_ARCHITECTURES[arch](arch, input_shape, hidden, code_dim, positions, activation)
