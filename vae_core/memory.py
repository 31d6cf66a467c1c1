"""The memory a run's choices need, estimated from its config alone before anything is allocated:
a latent dimension of a billion ends in one line that names it, not in the allocator's traceback.

Numbers are float32. Weights (parameters and buffers) are counted exactly, by building the model
on torch's `meta` device (shapes without storage), so the count follows the families as they are
built; a training step's activations are an estimate that errs high: every layer's output for
each example and each importance sample.
"""

from __future__ import annotations

import dataclasses
import itertools
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
# Copies of the weights a headless run holds at its peak: the weights, their gradients, Adam's
# two moments and its update's temporaries, and the copies a save and the last good weights
# take. Measured: 8.8 (peak resident memory over a 3-step `train` of 20,000- and 40,000-unit
# MLPs, less that of a 10-unit one, over the weights' bytes).
_TRAINING_COPIES = 9
# An activation is kept for the backward pass, gets a gradient there, and has about one more
# array of its size beside it (a ReLU's output, the likelihood's terms).
_ACTIVATION_COPIES = 3
# Without gradients (evaluation, the importance-sampling study) an activation and one more.
_INFERENCE_COPIES = 2


class NotEnoughMemory(VaeStudioError):
    """A model or a run would need more memory than the machine has free."""


@dataclass(frozen=True)
class _Activations:
    per_example: int  # activations of one example in a training step
    per_step: int = 0  # activations of a step whatever its batch size


def _planes(input_shape) -> tuple[int, int, int]:
    """Pixels per channel of the image, after one stride-2 step, after two (the conv grid)."""
    _, height, width = input_shape
    return height * width, (height // 2) * (width // 2), (height // 4) * (width // 4)


# Each network's activations per example, from (input shape, hidden sizes, the features at the
# latent end, condition size): the layers' outputs of the shapes networks.py builds.
def _mlp_encoder(input_shape, hidden, features, condition):
    return sum(hidden) + features


def _mlp_decoder(input_shape, hidden, features, condition):
    return sum(hidden) + math.prod(input_shape)


def _linear_encoder(input_shape, hidden, features, condition):
    return features


def _linear_decoder(input_shape, hidden, features, condition):
    return math.prod(input_shape)


def _conv_encoder(input_shape, hidden, features, condition):
    _, half, grid = _planes(input_shape)
    return 32 * half + 64 * grid + sum(hidden) + features


def _conv_decoder(input_shape, hidden, features, condition):
    full, half, grid = _planes(input_shape)
    return sum(hidden) + 64 * grid + 32 * half + input_shape[0] * full


_NETWORKS = {
    "mlp": (_mlp_encoder, _mlp_decoder),
    "linear": (_linear_encoder, _linear_decoder),
    "conv": (_conv_encoder, _conv_decoder),
}


def _gaussian_activations(config: ModelConfig) -> _Activations:
    pixels, latent, samples = math.prod(config.input_shape), config.latent_dim, config.iw_samples
    condition = config.num_classes if config.family == "cvae" else 0
    encoder, decoder = lookup(_NETWORKS, "architecture", config.arch)
    encoded = encoder(config.input_shape, config.hidden, 2 * latent, condition)
    decoded = decoder(config.input_shape, config.hidden, latent, condition)
    components = config.prior_components
    # A mixture's density: every sample against every component.
    prior = 2 * samples * components * latent if config.prior in ("mog", "vamp") else 0
    return _Activations(
        per_example=pixels + encoded + samples * (3 * latent + decoded + 2 * pixels) + prior,
        # The VampPrior encodes its pseudo-inputs at every step.
        per_step=components * (pixels + encoded) if config.prior == "vamp" else 0,
    )


def _hierarchical_activations(config: ModelConfig) -> _Activations:
    """The Gaussian families' estimate, one latent layer deeper: z1 under the image networks, z2
    under two dense networks, q(z2|z1) and p(z1|z2), and the prior on z2."""
    pixels, samples = math.prod(config.input_shape), config.iw_samples
    lower, upper, components = config.lower_latent_dim, config.latent_dim, config.prior_components
    encoder, decoder = lookup(_NETWORKS, "architecture", config.arch)
    encoded = encoder(config.input_shape, config.hidden, 2 * lower, 0)
    decoded = decoder(config.input_shape, config.hidden, lower, 0)
    upper_layers = 2 * sum(config.upper_hidden) + 2 * upper + 2 * lower
    prior = 2 * samples * components * upper if config.prior in ("mog", "vamp") else 0
    per_sample = 3 * (lower + upper) + upper_layers + decoded + 2 * pixels
    return _Activations(
        per_example=pixels + encoded + samples * per_sample + prior,
        per_step=components * (pixels + encoded + sum(config.upper_hidden) + 2 * upper)
        if config.prior == "vamp"
        else 0,
    )


def _code_network_activations(config: ModelConfig) -> tuple[int, int]:
    """Activations per example of VQ-VAE's networks, and the code vectors per image."""
    code_dim = config.latent_dim
    if config.arch == "conv":
        full, half, grid = _planes(config.input_shape)
        channels = config.input_shape[0]
        return 2 * (32 * half + 64 * grid) + (64 + code_dim) * grid + channels * full, grid
    positions = config.code_positions
    encoder, decoder = lookup(_NETWORKS, "architecture", config.arch)
    features = positions * code_dim
    return (
        encoder(config.input_shape, config.hidden, features, 0)
        + decoder(config.input_shape, config.hidden, features, 0),
        positions,
    )


def _vq_activations(config: ModelConfig) -> _Activations:
    pixels, code_dim, codes = math.prod(config.input_shape), config.latent_dim, config.codebook_size
    network, positions = _code_network_activations(config)
    if config.code_prior == "autoregressive":
        prior = AutoregressiveCodePrior
        # Each layer's attention compares every position with every other.
        attention = prior.heads * prior.layers * positions
        prior_activations = (
            CODE_PRIOR_BATCH * positions * (2 * codes + 10 * prior.width * prior.layers + attention)
        )
    else:
        prior_activations = 2 * positions * codes
    return _Activations(
        # Each code vector's distance to every codebook vector.
        per_example=2 * pixels + network + 3 * positions * code_dim + positions * codes,
        per_step=prior_activations,
    )


_FAMILY_ACTIVATIONS: dict[str, Callable[[ModelConfig], _Activations]] = {
    "vae": _gaussian_activations,
    "cvae": _gaussian_activations,
    "vqvae": _vq_activations,
    "hvae": _hierarchical_activations,
}


def weight_count(config: ModelConfig) -> int:
    """The numbers in a model's parameters and buffers: the model built on the meta device, which
    gives every tensor its shape and none its storage."""
    from vae_core.models import MODEL_FAMILIES  # that package builds through this module

    family = lookup(MODEL_FAMILIES, "model family", config.family)
    with torch.device("meta"):
        model = family(config)
    return sum(tensor.numel() for tensor in itertools.chain(model.parameters(), model.buffers()))


def model_bytes(config: ModelConfig) -> int:
    return _FLOAT_BYTES * weight_count(config)


def _activations(config: ModelConfig) -> _Activations:
    return lookup(_FAMILY_ACTIVATIONS, "model family", config.family)(config)


def training_bytes(config: RunConfig) -> int:
    """A training step's memory: the weights with their gradients, Adam's moments and the copies
    a save takes, and a batch's activations."""
    activations = _activations(config.model)
    values = config.train.batch_size * activations.per_example + activations.per_step
    return _FLOAT_BYTES * (
        _TRAINING_COPIES * weight_count(config.model) + _ACTIVATION_COPIES * values
    )


def study_bytes(config: ModelConfig, draws: int) -> int:
    """Memory of `draws` importance samples of one example at once, without gradients: the
    weights, and each draw's activations (one sample's share of an example's)."""
    one, two = (
        _activations(dataclasses.replace(config, iw_samples=samples)).per_example
        for samples in (1, 2)
    )
    return _FLOAT_BYTES * (weight_count(config) + _INFERENCE_COPIES * draws * (two - one))


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


def check_study_fits(config: ModelConfig, draws: int, device: torch.device) -> None:
    """Raises NotEnoughMemory when `draws` importance samples at once would not fit on `device`."""
    run = dataclasses.replace(_DEFAULTS, model=config)
    _check(
        run,
        lambda candidate: study_bytes(candidate.model, draws),
        device,
        f"for {draws:,} draws at once",
    )


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
