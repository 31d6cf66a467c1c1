"""Run configuration: dataclasses that round-trip through JSON and TOML and reject unknown keys,
values of the wrong type and numbers no run can work with."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from vae_core.errors import VaeStudioError
from vae_core.limits import (
    MAX_INT64,
    MAX_MINUTES,
    MAX_TEXT_BYTES,
    MAX_THREADS,
    parse_json,
    read_bytes_bounded,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(VaeStudioError):
    pass


@dataclass
class DataConfig:
    dataset: str = "glyphs"
    data_dir: str | None = None
    # Number of examples for generated data sets (None: the set's default size).
    size: int | None = None
    # Share of the examples held out for testing where the set has no test split of its own.
    test_fraction: float = 1 / 6
    seed: int = 0
    # Base URLs tried, in order, before the built-in mirrors when a data set is downloaded.
    mirrors: tuple[str, ...] = ()
    # Side length images of the user's own folders and arrays are resized to (None: as they are).
    image_size: int | None = None
    # "grayscale" or "rgb", for the user's own images.
    color: str = "grayscale"


@dataclass
class ModelConfig:
    family: str = "vae"
    prior: str = "normal"
    likelihood: str = "bernoulli"
    arch: str = "mlp"
    hidden: tuple[int, ...] = (400,)
    latent_dim: int = 2
    # The dense layers' nonlinearity: relu or tanh.
    activation: str = "relu"
    # The hierarchical VAE: the size of z1, the layer next to the data (latent_dim is z2's, the
    # top layer), and the dense layers between z1 and z2 (`hidden` are those between x and z1).
    lower_latent_dim: int = 100
    upper_hidden: tuple[int, ...] = (100, 100)
    # Importance samples per example in the training objective (1 = the ELBO).
    iw_samples: int = 1
    # The IWAE bound's gradient: "iwae" (the bound's own) or "dreg" (Tucker et al. 2018: the
    # encoder's without the score-function term; same expectation, lower variance).
    gradient_estimator: str = "iwae"
    # Free bits (Kingma et al. 2016) in nats per latent dimension: the ELBO's KL, in the loss only,
    # counts each dimension's batch-mean KL as at least this (the hierarchical VAE's lower layer
    # as a group of its size), so the optimiser does not push a dimension's code to the prior.
    free_bits: float = 0.0
    # Components of a mixture prior, or pseudo-inputs of a VampPrior.
    prior_components: int = 10
    # VQ-VAE: K codebook vectors of latent_dim numbers each; an image is coded as code_positions
    # of them (dense networks; the conv network codes each 4x4 patch).
    codebook_size: int = 64
    code_positions: int = 16
    # Weight of ||z_e - sg(e)||², keeping encoder outputs near their codes (0.25 in the paper).
    commitment: float = 0.25
    # Codebook by exponential moving averages of its assigned vectors, not by gradient.
    codebook_ema: bool = False
    ema_decay: float = 0.99
    # Move codes the encoder stopped choosing onto recent encoder outputs.
    reset_dead_codes: bool = True
    # The prior over code indices that VQ-VAE samples from: categorical or autoregressive.
    code_prior: str = "autoregressive"
    # Filled in from the data when a run is built, so a checkpoint rebuilds its model alone.
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None
    # A headless run's wall-time budget, counted from the command's start: it then saves and ends.
    # Schedules over the budget (a cosine learning rate) then run by the clock as well as the steps.
    max_minutes: float | None = None
    batch_size: int = 128
    lr: float = 1e-3
    # The base learning rate's multiplier over the run: constant, cosine (after a linear warm-up
    # of lr_warmup_steps) or burda (Burda et al. 2015's stepwise decay over 3,280 epochs).
    lr_schedule: str = "constant"
    lr_warmup_steps: int = 500
    # Adam's moment decay rates and its denominator's guard (Burda et al. use eps 1e-4).
    adam_betas: tuple[float, ...] = (0.9, 0.999)
    adam_eps: float = 1e-8
    # Decay of an exponential moving average of the weights (training/ema.py), which evaluation,
    # the held-out curve and best.safetensors use (0: none; 0.999 to 0.9999 in VDVAE and NVAE).
    weight_ema: float = 0.0
    # "adam", or "adamax" (Adam's infinity-norm variant, Kingma and Ba 2015, section 7.1).
    optimizer: str = "adam"
    # Start a Bernoulli decoder's output bias at the logit of the training data's mean pixel.
    init_output_bias: bool = True
    beta: float = 1.0
    beta_schedule: str = "constant"
    # Steps of the linear warm-up, and the length of one cycle of the cyclical schedule.
    beta_warmup_steps: int = 2000
    beta_cycle_steps: int = 2000
    seed: int = 0
    device: str = "auto"
    # "fp32", or "bf16": the forward pass under autocast (weights and optimizer stay float32).
    precision: str = "fp32"
    # Torch's intra-op threads of a headless run (None: torch's own choice, a thread a core). Where
    # other work shares the cores, two threads ran a batch-100 step 5 to 25 times slower than one
    # (their OpenMP barriers wait on a descheduled thread); on a quiet 2-core machine 1.1 times
    # faster (benchmarks/bench_step_speed.py).
    threads: int | None = None
    # Train with the objective under torch.compile (vae_core/training/compiled.py): the first step
    # compiles (tens of seconds); where it cannot run, one line says so and training stays eager.
    compile: bool = False
    log_every: int = 50
    # Steps between evaluations of the ELBO on the held-out examples (0: none held out, no curve).
    heldout_every: int = 500
    # Examples of the training split held out for that curve (and never trained on), at most a
    # tenth of the split; chosen by the data seed, so runs of any training seed share them.
    heldout_size: int = 1000
    # Write TensorBoard event files into the run folder's tensorboard/ (vae_core/tensorboard_log.py).
    tensorboard: bool = False


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return _drop_none(dataclasses.asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, values: dict) -> RunConfig:
        return _build(cls, values, "")

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        try:
            values = parse_json(text, "config")
        except VaeStudioError as error:
            raise ConfigError(str(error)) from None
        return cls.from_dict(values)

    @classmethod
    def from_toml(cls, text: str) -> RunConfig:
        if len(text) > MAX_TEXT_BYTES:
            raise ConfigError(
                f"config holds {len(text):,} characters, more than {MAX_TEXT_BYTES:,}"
            )
        try:
            values = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"config is not valid TOML: {error}") from None
        except RecursionError:  # the parser recurses into each nested array or table
            raise ConfigError("config is not valid TOML: its values nest too deeply") from None
        return cls.from_dict(values)

    @classmethod
    def from_file(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            text = read_bytes_bounded(path, MAX_TEXT_BYTES, "config").decode("utf-8")
        except VaeStudioError as error:
            raise ConfigError(f"cannot read config {error}") from None
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"config {path} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"
            ) from None
        if path.suffix == ".json":
            return cls.from_json(text)
        return cls.from_toml(text)


def _drop_none(value):
    # TOML has no null: an unset optional is written as an absent key.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, tuple):
        return list(value)
    return value


def _build(cls, values, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{prefix.rstrip('.') or 'root'}' must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown config key {prefix + key!r}")
    arguments = {}
    for name, value in values.items():
        arguments[name] = _coerce(hints[name], value, prefix + name)
    return cls(**arguments)


# The smallest value of each number a run can work with (each entry of a list); a key not named
# takes any value of its type. Floats must also be finite.
_AT_LEAST = {
    "data.size": 1,
    "data.image_size": 1,
    "data.seed": 0,
    "model.hidden": 1,
    "model.latent_dim": 1,
    "model.lower_latent_dim": 1,
    "model.upper_hidden": 1,
    "model.iw_samples": 1,
    "model.prior_components": 1,
    "model.codebook_size": 1,
    "model.code_positions": 1,
    "model.commitment": 0,
    "model.free_bits": 0,
    "model.input_shape": 1,
    "model.num_classes": 0,
    "train.epochs": 1,
    "train.max_steps": 1,
    "train.batch_size": 1,
    "train.beta": 0,
    "train.beta_warmup_steps": 0,
    "train.beta_cycle_steps": 0,
    "train.seed": 0,
    "train.log_every": 1,
    "train.heldout_every": 0,
    "train.heldout_size": 0,
    "train.lr_warmup_steps": 0,
    "train.adam_betas": 0,
    "train.threads": 1,
    "train.weight_ema": 0,
}
# Numbers strictly between bounds: fractions, a learning rate, and seeds that torch and numpy take.
_BELOW = {
    "data.test_fraction": 1,
    "model.ema_decay": 1,
    "data.seed": 2**63,
    "train.seed": 2**63,
    "train.adam_betas": 1,
    "train.weight_ema": 1,
}
_ABOVE = {
    "data.test_fraction": 0,
    "model.ema_decay": 0,
    "train.lr": 0,
    "train.adam_eps": 0,
    "train.max_minutes": 0,
}


# The largest value of a number, where less than what torch and the system take (an integer
# must fit 64 bits): examples of a generated set, torch's threads, a timer's minutes.
_AT_MOST = {
    "data.size": 10_000_000,
    "train.threads": MAX_THREADS,
    "train.max_minutes": MAX_MINUTES,
}


def _check_range(key: str, value) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{key}' must be a finite number, got {value!r}")
    most = _AT_MOST.get(key, MAX_INT64 if isinstance(value, int) else math.inf)
    if value > most:
        raise ConfigError(f"config key '{key}' must be at most {most:,}, got {value!r}")
    if key in _AT_LEAST and value < _AT_LEAST[key]:
        raise ConfigError(f"config key '{key}' must be at least {_AT_LEAST[key]}, got {value!r}")
    if key in _ABOVE and not value > _ABOVE[key]:
        raise ConfigError(f"config key '{key}' must be more than {_ABOVE[key]}, got {value!r}")
    if key in _BELOW and not value < _BELOW[key]:
        raise ConfigError(f"config key '{key}' must be less than {_BELOW[key]}, got {value!r}")


def _check_input_shape(shape: tuple[int, ...]) -> None:
    # Empty until a run fills it in from its data; then (C, H, W), or (D, 1, 1) for points.
    if len(shape) not in (0, 3):
        raise ConfigError(
            f"config key 'model.input_shape' must be empty or hold 3 sizes, got {list(shape)}"
        )


def _coerce(hint, value, key: str):
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        (hint,) = [a for a in arguments if a is not type(None)]
        return _coerce(hint, value, key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        items = tuple(_coerce(arguments[0], item, key) for item in value)
        if key == "model.input_shape":
            _check_input_shape(items)
        if key == "train.adam_betas" and len(items) != 2:
            raise ConfigError(
                f"config key 'train.adam_betas' must hold 2 numbers, got {list(items)}"
            )
        return items
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"config key '{key}' must be {hint.__name__}, got {value!r}")
    if hint in (int, float):
        _check_range(key, value)
    return value
