"""The memory a run's choices need, estimated from its config alone before anything is allocated:
a latent dimension of a billion ends in one line that names it, not in the allocator's traceback.

Numbers are float32. Weights (parameters and buffers) are counted exactly, family by family (a
test holds each count to the model the family builds); a training step's activations are an
estimate that errs high: every layer's output for each example and each importance sample.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vae_core.choices import lookup
from vae_core.config import ModelConfig, RunConfig
from vae_core.errors import VaeStudioError
from vae_core.models.code_priors import AutoregressiveCodePrior
from vae_core.models.vqvae import CODE_PRIOR_BATCH

GIB = 1 << 30
_FLOAT_BYTES = 4
# A trained weight comes with its gradient and Adam's two moments.
_TRAINING_COPIES = 4
# An activation is kept for the backward pass, gets a gradient there, and has about one more
# array of its size beside it (a ReLU's output, the likelihood's terms).
_ACTIVATION_COPIES = 3


class NotEnoughMemory(VaeStudioError):
    """A model or a run would need more memory than the machine has free."""


@dataclass(frozen=True)
class _Numbers:
    weights: int  # parameters and buffers
    per_example: int  # activations of one example in a training step
    per_step: int = 0  # activations of a step whatever its batch size


def _dense(sizes) -> int:
    return sum(size_in * size_out + size_out for size_in, size_out in zip(sizes[:-1], sizes[1:]))


def _conv(channels_in: int, channels_out: int, kernel: int) -> int:
    # A transposed convolution has as many weights as the convolution it undoes.
    return channels_in * channels_out * kernel * kernel + channels_out


def _planes(input_shape) -> tuple[int, int, int]:
    """Pixels per channel of the image, after one stride-2 step, after two (the conv grid)."""
    _, height, width = input_shape
    return height * width, (height // 2) * (width // 2), (height // 4) * (width // 4)


# Each network as (weights, activations per example), from (input shape, hidden sizes, the
# features at the latent end, condition size): the shapes networks.py builds.
def _mlp_encoder(input_shape, hidden, features, condition):
    sizes = [math.prod(input_shape) + condition, *hidden, features]
    return _dense(sizes), sum(sizes[1:])


def _mlp_decoder(input_shape, hidden, features, condition):
    sizes = [features + condition, *reversed(hidden), math.prod(input_shape)]
    return _dense(sizes), sum(sizes[1:])


def _linear_encoder(input_shape, hidden, features, condition):
    return _mlp_encoder(input_shape, (), features, condition)


def _linear_decoder(input_shape, hidden, features, condition):
    return _mlp_decoder(input_shape, (), features, condition)


def _conv_encoder(input_shape, hidden, features, condition):
    _, half, grid = _planes(input_shape)
    dense = [64 * grid, *hidden, features]
    weights = _conv(input_shape[0] + condition, 32, 4) + _conv(32, 64, 4) + _dense(dense)
    return weights, 32 * half + 64 * grid + sum(dense[1:])


def _conv_decoder(input_shape, hidden, features, condition):
    full, half, grid = _planes(input_shape)
    dense = [features + condition, *reversed(hidden), 64 * grid]
    weights = _dense(dense) + _conv(64, 32, 4) + _conv(32, input_shape[0], 4)
    return weights, sum(dense[1:]) + 32 * half + input_shape[0] * full


_NETWORKS = {
    "mlp": (_mlp_encoder, _mlp_decoder),
    "linear": (_linear_encoder, _linear_decoder),
    "conv": (_conv_encoder, _conv_decoder),
}


def _gaussian_numbers(config: ModelConfig) -> _Numbers:
    pixels, latent, samples = math.prod(config.input_shape), config.latent_dim, config.iw_samples
    condition = config.num_classes if config.family == "cvae" else 0
    encoder, decoder = lookup(_NETWORKS, "architecture", config.arch)
    encoder_weights, encoder_activations = encoder(
        config.input_shape, config.hidden, 2 * latent, condition
    )
    decoder_weights, decoder_activations = decoder(
        config.input_shape, config.hidden, latent, condition
    )
    likelihood_weights = pixels if config.likelihood == "gaussian" else 0
    components = config.prior_components
    prior_weights = {"mog": components * (2 * latent + 1), "vamp": components * pixels}.get(
        config.prior, latent
    )
    # A mixture's density: every sample against every component.
    prior_activations = 2 * samples * components * latent if config.prior in ("mog", "vamp") else 0
    return _Numbers(
        weights=encoder_weights + decoder_weights + likelihood_weights + prior_weights,
        per_example=pixels
        + encoder_activations
        + samples * (3 * latent + decoder_activations + 2 * pixels)
        + prior_activations,
        # The VampPrior encodes its pseudo-inputs at every step.
        per_step=components * (pixels + encoder_activations) if config.prior == "vamp" else 0,
    )


def _hierarchical_numbers(config: ModelConfig) -> _Numbers:
    """The Gaussian families' count, one latent layer deeper: z1 under the image networks, z2 under
    two dense networks, q(z2|z1) and p(z1|z2), and the prior on z2."""
    pixels, samples = math.prod(config.input_shape), config.iw_samples
    lower, upper, components = config.lower_latent_dim, config.latent_dim, config.prior_components
    encoder, decoder = lookup(_NETWORKS, "architecture", config.arch)
    encoder_weights, encoder_activations = encoder(config.input_shape, config.hidden, 2 * lower, 0)
    decoder_weights, decoder_activations = decoder(config.input_shape, config.hidden, lower, 0)
    upper_encoder = [lower, *config.upper_hidden, 2 * upper]
    upper_decoder = [upper, *reversed(config.upper_hidden), 2 * lower]
    likelihood_weights = pixels if config.likelihood == "gaussian" else 0
    prior_weights = {"mog": components * (2 * upper + 1), "vamp": components * pixels}.get(
        config.prior, upper
    )
    prior_activations = 2 * samples * components * upper if config.prior in ("mog", "vamp") else 0
    per_sample = (
        3 * (lower + upper)
        + sum(upper_encoder[1:])
        + sum(upper_decoder[1:])
        + decoder_activations
        + 2 * pixels
    )
    return _Numbers(
        weights=encoder_weights
        + decoder_weights
        + _dense(upper_encoder)
        + _dense(upper_decoder)
        + likelihood_weights
        + prior_weights,
        per_example=pixels + encoder_activations + samples * per_sample + prior_activations,
        per_step=components * (pixels + encoder_activations + sum(upper_encoder[1:]))
        if config.prior == "vamp"
        else 0,
    )


def _code_networks(config: ModelConfig) -> tuple[int, int, int]:
    """Weights and activations per example of VQ-VAE's networks, and the code vectors per image."""
    code_dim = config.latent_dim
    if config.arch == "conv":
        full, half, grid = _planes(config.input_shape)
        channels = config.input_shape[0]
        weights = (
            _conv(channels, 32, 4) + _conv(32, 64, 4) + _conv(64, 64, 3) + _conv(64, code_dim, 1)
        )
        weights += _conv(code_dim, 64, 3) + _conv(64, 32, 4) + _conv(32, channels, 4)
        activations = 2 * (32 * half + 64 * grid) + (64 + code_dim) * grid + channels * full
        return weights, activations, grid
    positions = config.code_positions
    encoder, decoder = lookup(_NETWORKS, "architecture", config.arch)
    encoder_weights, encoder_activations = encoder(
        config.input_shape, config.hidden, positions * code_dim, 0
    )
    decoder_weights, decoder_activations = decoder(
        config.input_shape, config.hidden, positions * code_dim, 0
    )
    return encoder_weights + decoder_weights, encoder_activations + decoder_activations, positions


def _vq_numbers(config: ModelConfig) -> _Numbers:
    pixels, code_dim, codes = math.prod(config.input_shape), config.latent_dim, config.codebook_size
    network_weights, network_activations, positions = _code_networks(config)
    likelihood_weights = pixels if config.likelihood == "gaussian" else 0
    # The codebook and its usage averages, and the moving sums that replace its gradient.
    quantizer_weights = (
        codes * code_dim + codes + 1 + (codes + codes * code_dim if config.codebook_ema else 0)
    )
    if config.code_prior == "autoregressive":
        prior = AutoregressiveCodePrior
        width, layers = prior.width, prior.layers
        # Attention (4 w x w maps), the feed-forward part (w to 2w and back) and two layer norms.
        layer_weights = (
            4 * width * width + 4 * width + 2 * (2 * width * width) + 3 * width + 4 * width
        )
        embeddings = width + codes * width + positions * width
        prior_weights = embeddings + layers * layer_weights + 2 * width + _dense([width, codes])
        # Each layer's attention compares every position with every other.
        attention = prior.heads * layers * positions
        prior_activations = (
            CODE_PRIOR_BATCH * positions * (2 * codes + 10 * width * layers + attention)
        )
    else:
        prior_weights = positions * codes
        prior_activations = 2 * positions * codes
    return _Numbers(
        weights=network_weights + likelihood_weights + quantizer_weights + prior_weights,
        # Each code vector's distance to every codebook vector.
        per_example=2 * pixels + network_activations + 3 * positions * code_dim + positions * codes,
        per_step=prior_activations,
    )


_FAMILY_NUMBERS: dict[str, Callable[[ModelConfig], _Numbers]] = {
    "vae": _gaussian_numbers,
    "cvae": _gaussian_numbers,
    "vqvae": _vq_numbers,
    "hvae": _hierarchical_numbers,
}


def weight_count(config: ModelConfig) -> int:
    """The numbers in a model's parameters and buffers, without building it."""
    return _FAMILY_NUMBERS[config.family](config).weights


def model_bytes(config: ModelConfig) -> int:
    return _FLOAT_BYTES * weight_count(config)


def training_bytes(config: RunConfig) -> int:
    """A training step's memory: the weights with their gradients and Adam's moments, and a
    batch's activations."""
    numbers = _FAMILY_NUMBERS[config.model.family](config.model)
    activations = config.train.batch_size * numbers.per_example + numbers.per_step
    return _FLOAT_BYTES * (_TRAINING_COPIES * numbers.weights + _ACTIVATION_COPIES * activations)


def available_bytes(device: torch.device) -> int | None:
    """Memory free on `device` now (None where it cannot be known)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free
    if device.type in ("cpu", "mps"):  # Apple's GPUs share the machine's memory
        return _system_available_bytes()
    return None


def _system_available_bytes() -> int | None:
    free = _meminfo_available() or _sysconf_available()
    limit = _cgroup_room()
    if free is None or limit is None:
        return free if limit is None else limit
    return min(free, limit)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on macOS or Windows
        return None


def _cgroup_room() -> int | None:
    """What a container's memory limit leaves (cgroup v2), where there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        return max(0, int(limit) - int(used))
    except (OSError, ValueError):  # no cgroup v2, or "max": no limit
        return None


# The choices that can make a model or a run huge, by config section and key, with the flag that
# sets each and its name in words.
_SUSPECTS = (
    ("model", "latent_dim", "--latent-dim", "latent dimension"),
    ("model", "hidden", "--hidden", "hidden layers"),
    ("model", "prior_components", "--prior-components", "prior components"),
    ("model", "codebook_size", "--codebook-size", "codebook size"),
    ("model", "code_positions", "--code-positions", "code positions"),
    ("model", "iw_samples", "--iw-samples", "importance samples"),
    ("train", "batch_size", "--batch-size", "batch size"),
)
_DEFAULTS = RunConfig()


def check_model_fits(config: ModelConfig) -> None:
    """Raises NotEnoughMemory, naming the choice to blame, when a model's weights would not fit
    in the machine's free memory (every model is built on the CPU first)."""
    run = dataclasses.replace(_DEFAULTS, model=config)
    _check(
        run, lambda candidate: model_bytes(candidate.model), torch.device("cpu"), "for its weights"
    )


def check_training_fits(config: RunConfig, device: torch.device) -> None:
    """Raises NotEnoughMemory, naming the choice to blame, when training would not fit on `device`."""
    _check(config, training_bytes, device, "to train")


def _check(
    config: RunConfig, estimate: Callable[[RunConfig], int], device: torch.device, purpose: str
) -> None:
    needed = estimate(config)
    free = available_bytes(device) if needed > GIB else None  # a small run is not worth the look
    if free is None or needed <= free:
        return
    where = "this machine has" if device.type == "cpu" else f"{device} has"
    culprit = _culprit(config, estimate, needed)
    raise NotEnoughMemory(
        f"{culprit}needs about {_gib(needed)} {purpose}; {where} {_gib(free)} free"
    )


def _culprit(config: RunConfig, estimate: Callable[[RunConfig], int], needed: int) -> str:
    """The choice whose default value would save the most, in words with its flag; or "this run"."""
    best, saved_most = "this run ", 0
    for section, key, flag, words in _SUSPECTS:
        value = getattr(getattr(config, section), key)
        default = getattr(getattr(_DEFAULTS, section), key)
        if value == default:
            continue
        changed = dataclasses.replace(getattr(config, section), **{key: default})
        saved = needed - estimate(dataclasses.replace(config, **{section: changed}))
        if saved > saved_most:
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            best, saved_most = f"{words} {shown} ({flag}) ", saved
    return best


def _gib(size: int) -> str:
    gib = size / GIB
    return f"{gib:,.0f} GiB" if gib >= 10 else f"{gib:.1f} GiB"
