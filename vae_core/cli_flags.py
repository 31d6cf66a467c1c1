"""The command line's flags: the parser of `train`, `evaluate` and `analyze`, the types that check
each value as it is read, and how the flags override a run's config."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from vae_core.cli_exchange import add_exchange_flags, add_export_command, resume_mode
from vae_core.cli_types import (
    Parser,
    adam_betas,
    folder_name,
    hidden_sizes,
    minutes,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    threads,
)
from vae_core.config import RunConfig
from vae_core.data import LOCATED_DATASETS, NAMED_DATASETS
from vae_core.device import DEVICE_CHOICES, PRECISIONS
from vae_core.evaluation.gradient_estimators import (
    SAMPLE_COUNTS as GRADIENT_SAMPLE_COUNTS,
)
from vae_core.models import MODEL_FAMILIES
from vae_core.models.code_priors import CODE_PRIORS
from vae_core.models.dreg import ESTIMATORS
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ACTIVATIONS, ARCHITECTURES
from vae_core.models.priors import PRIORS
from vae_core.presets import preset_names
from vae_core.training.headless import DEFAULT_SAVE_EVERY_MINUTES
from vae_core.training.schedules import BETA_SCHEDULES, LR_SCHEDULES

# Flag name -> (config section, config key): what a flag overrides in the run's config.
_CONFIG_FLAGS = {
    "model": ("model", "family"),
    "prior": ("model", "prior"),
    "prior_components": ("model", "prior_components"),
    "likelihood": ("model", "likelihood"),
    "arch": ("model", "arch"),
    "hidden": ("model", "hidden"),
    "latent_dim": ("model", "latent_dim"),
    "activation": ("model", "activation"),
    "lower_latent_dim": ("model", "lower_latent_dim"),
    "upper_hidden": ("model", "upper_hidden"),
    "iw_samples": ("model", "iw_samples"),
    "gradient_estimator": ("model", "gradient_estimator"),
    "free_bits": ("model", "free_bits"),
    "weight_ema": ("train", "weight_ema"),
    "optimizer": ("train", "optimizer"),
    "codebook_size": ("model", "codebook_size"),
    "code_positions": ("model", "code_positions"),
    "commitment": ("model", "commitment"),
    "codebook_ema": ("model", "codebook_ema"),
    "code_prior": ("model", "code_prior"),
    "dataset": ("data", "dataset"),
    "data_dir": ("data", "data_dir"),
    "mirror": ("data", "mirrors"),
    "image_size": ("data", "image_size"),
    "color": ("data", "color"),
    "epochs": ("train", "epochs"),
    "max_steps": ("train", "max_steps"),
    "max_minutes": ("train", "max_minutes"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "lr_schedule": ("train", "lr_schedule"),
    "lr_warmup_steps": ("train", "lr_warmup_steps"),
    "adam_betas": ("train", "adam_betas"),
    "adam_eps": ("train", "adam_eps"),
    "beta": ("train", "beta"),
    "beta_schedule": ("train", "beta_schedule"),
    "seed": ("train", "seed"),
    "device": ("train", "device"),
    "precision": ("train", "precision"),
    "threads": ("train", "threads"),
    "compile": ("train", "compile"),
    "log_every": ("train", "log_every"),
    "heldout_every": ("train", "heldout_every"),
    "tensorboard": ("train", "tensorboard"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vae-studio", description="Train and explore variational autoencoders.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    train = _add_train_command(commands)
    _add_model_flags(train)
    _add_objective_flags(train)
    _add_codebook_flags(train)
    _add_data_flags(train)
    _add_optimisation_flags(train)
    add_exchange_flags(train)
    _add_evaluate_command(commands)
    _add_analyze_command(commands)
    add_export_command(commands, folder_name, positive_int)
    return parser


def _add_train_command(commands) -> argparse.ArgumentParser:
    """`train`: where the run goes, what it starts from, how it saves and stops."""
    train = commands.add_parser("train", help="train a model headless")
    train.add_argument(
        "--out",
        required=True,
        type=folder_name,
        help="run folder for checkpoint, config and metrics",
    )
    starting_point = train.add_mutually_exclusive_group()
    starting_point.add_argument(
        "--config", type=Path, help="a TOML or JSON run config; flags override it"
    )
    starting_point.add_argument(
        "--preset",
        metavar="NAME",
        help=f"a named run config from resources/presets ({', '.join(preset_names())}); flags override it",
    )
    train.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        type=resume_mode,
        metavar="auto",
        help="continue the run in --out from its checkpoint; --resume auto: continue it where there"
        " is one, else start it (the same command line for a requeued job or a torchrun restart)",
    )
    train.add_argument("--overwrite", action="store_true", help="replace the run that --out holds")
    train.add_argument(
        "--save-every",
        type=minutes,
        default=DEFAULT_SAVE_EVERY_MINUTES,
        metavar="MINUTES",
        help=f"save a checkpoint this often while training (default {DEFAULT_SAVE_EVERY_MINUTES:g})",
    )
    train.add_argument(
        "--max-minutes",
        type=minutes,
        metavar="M",
        help="stop after M minutes (counted from the start of the command), save, and exit 0",
    )
    return train


def _add_model_flags(train: argparse.ArgumentParser) -> None:
    # Flags default to None so that only the ones given override the config.
    train.add_argument("--model", choices=sorted(MODEL_FAMILIES))
    train.add_argument("--prior", choices=sorted(PRIORS))
    train.add_argument("--prior-components", type=positive_int, metavar="K")
    train.add_argument("--likelihood", choices=sorted(LIKELIHOODS))
    train.add_argument("--arch", choices=sorted(ARCHITECTURES))
    train.add_argument("--hidden", type=hidden_sizes, metavar="400[,200...]")
    train.add_argument(
        "--latent-dim",
        type=positive_int,
        metavar="D",
        help="latent size (hvae: of z2, the top layer)",
    )
    train.add_argument(
        "--activation", choices=sorted(ACTIVATIONS), help="the dense layers' nonlinearity"
    )
    train.add_argument(
        "--lower-latent-dim",
        type=positive_int,
        metavar="D",
        help="hvae: the size of z1 (default 100)",
    )
    train.add_argument(
        "--upper-hidden",
        type=hidden_sizes,
        metavar="100[,100...]",
        help="hvae: layers between z1 and z2",
    )


def _add_objective_flags(train: argparse.ArgumentParser) -> None:
    train.add_argument("--beta", type=non_negative_float, metavar="B")
    train.add_argument("--beta-schedule", choices=sorted(BETA_SCHEDULES))
    train.add_argument(
        "--iw-samples",
        type=positive_int,
        metavar="K",
        help="IWAE objective with K samples (1 = ELBO)",
    )
    train.add_argument(
        "--gradient-estimator",
        choices=ESTIMATORS,
        help="the IWAE bound's gradient: iwae, or dreg (Tucker et al. 2018: lower variance)",
    )
    train.add_argument(
        "--free-bits",
        type=non_negative_float,
        metavar="NATS",
        help="the ELBO's KL counted as at least NATS per latent dimension (default 0: none)",
    )
    train.add_argument(
        "--weight-ema",
        type=non_negative_float,
        metavar="DECAY",
        help="evaluate a moving average of the weights with this decay, e.g. 0.999 (default 0: none)",
    )
    train.add_argument("--optimizer", choices=("adam", "adamax"))


def _add_codebook_flags(train: argparse.ArgumentParser) -> None:
    """VQ-VAE's."""
    train.add_argument(
        "--codebook-size",
        type=positive_int,
        metavar="K",
        help="VQ-VAE: number of codebook vectors",
    )
    train.add_argument(
        "--code-positions",
        type=positive_int,
        metavar="N",
        help="VQ-VAE (dense networks): code vectors per image",
    )
    train.add_argument(
        "--commitment", type=non_negative_float, metavar="W", help="VQ-VAE: commitment loss weight"
    )
    train.add_argument(
        "--codebook-ema",
        action="store_true",
        default=None,
        help="VQ-VAE: update the codebook by moving averages",
    )
    train.add_argument(
        "--code-prior",
        choices=sorted(CODE_PRIORS),
        help="VQ-VAE: the prior over codes it samples from",
    )


def _add_data_flags(train: argparse.ArgumentParser) -> None:
    train.add_argument(
        "--dataset",
        metavar="NAME",
        help=f"one of {', '.join(NAMED_DATASETS)}, or {', '.join(k + ':PATH' for k in LOCATED_DATASETS)}",
    )
    train.add_argument("--data-dir", metavar="DIR")
    train.add_argument(
        "--mirror",
        action="append",
        metavar="URL",
        help="a base URL to download data from (repeatable)",
    )
    train.add_argument(
        "--image-size", type=positive_int, metavar="PX", help="resize your own images to PX x PX"
    )
    train.add_argument("--color", choices=("grayscale", "rgb"), help="channels of your own images")


def _add_optimisation_flags(train: argparse.ArgumentParser) -> None:
    train.add_argument("--epochs", type=positive_int, metavar="E")
    train.add_argument("--max-steps", type=positive_int, metavar="S")
    train.add_argument("--batch-size", type=positive_int, metavar="N")
    train.add_argument(
        "--lr", type=positive_float, help="the base learning rate, which --lr-schedule multiplies"
    )
    train.add_argument("--lr-schedule", choices=sorted(LR_SCHEDULES))
    train.add_argument(
        "--lr-warmup-steps",
        type=positive_int,
        metavar="S",
        help="steps of the cosine schedule's linear warm-up",
    )
    train.add_argument(
        "--adam-betas",
        type=adam_betas,
        metavar="B1,B2",
        help="Adam's moment decay rates (default 0.9,0.999)",
    )
    train.add_argument(
        "--adam-eps", type=positive_float, metavar="EPS", help="Adam's eps (default 1e-8)"
    )
    train.add_argument("--seed", type=non_negative_int)
    train.add_argument("--device", choices=DEVICE_CHOICES)
    train.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        help="bf16: autocast where the device has it (default fp32)",
    )
    train.add_argument(
        "--threads",
        type=threads,
        metavar="N",
        help="torch's threads for this run (default: the config's, else a thread a core; 1 where other work shares the cores)",
    )
    train.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train with the step under torch.compile (its first step compiles, tens of seconds)",
    )
    train.add_argument("--log-every", type=positive_int, metavar="STEPS")
    train.add_argument(
        "--heldout-every",
        type=non_negative_int,
        metavar="STEPS",
        help="evaluate the ELBO of held-out training examples this often (0: hold none out)",
    )


def _add_evaluate_command(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="print test-set figures of a trained run as JSON"
    )
    evaluate.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    evaluate.add_argument("--iw-samples", type=positive_int, default=1, metavar="K")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="torch's threads (default one a core; 1 where other work shares the cores)",
    )
    evaluate.add_argument(
        "--limit", type=positive_int, metavar="N", help="evaluate the first N examples only"
    )
    evaluate.add_argument(
        "--data-dir", metavar="DIR", help="where the data set's files are, if moved"
    )
    evaluate.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    evaluate.add_argument("--pretty", action="store_true", help=_PRETTY_HELP)


def _add_analyze_command(commands) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="for one example: amortization and approximation gaps, IS with prior vs posterior proposals",
    )
    analyze.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    analyze.add_argument(
        "--index", type=int, default=0, metavar="N", help="which example of the split"
    )
    analyze.add_argument("--split", choices=("test", "train"), default="test")
    analyze.add_argument(
        "--steps",
        type=positive_int,
        default=300,
        help="gradient steps optimising q for this input",
    )
    analyze.add_argument(
        "--k",
        type=positive_int,
        nargs="+",
        default=[1, 10, 100, 1000],
        metavar="K",
        help="importance sample counts to compare",
    )
    analyze.add_argument(
        "--gradient-k",
        type=positive_int,
        nargs="+",
        default=list(GRADIENT_SAMPLE_COUNTS),
        metavar="K",
        help="sample counts at which the two gradient estimators' variances are measured"
        " (10 x the largest K draws through the decoder and back)",
    )
    analyze.add_argument(
        "--data-dir", metavar="DIR", help="where the data set's files are, if moved"
    )
    analyze.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    analyze.add_argument("--pretty", action="store_true", help=_PRETTY_HELP)


_PRETTY_HELP = "print the JSON indented, a figure a line (default: one line, for scripts)"


def apply_flags(config: RunConfig, arguments: argparse.Namespace) -> RunConfig:
    sections = {name: getattr(config, name) for name in ("data", "model", "train")}
    for flag, (section, key) in _CONFIG_FLAGS.items():
        value = getattr(arguments, flag, None)
        if value is not None:
            sections[section] = dataclasses.replace(sections[section], **{key: value})
    if arguments.max_steps is None and arguments.epochs is not None:
        sections["train"] = dataclasses.replace(sections["train"], max_steps=None)
    return RunConfig(**sections)
