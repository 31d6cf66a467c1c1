"""The headless command line: `train` and `evaluate`, with the same core as the window."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from vae_core.checkpoint import load_checkpoint, load_model
from vae_core.config import ConfigError, DataConfig, ModelConfig, RunConfig
from vae_core.data import LOCATED_DATASETS, NAMED_DATASETS, DataSplit, load_data
from vae_core.defaults import defaults_for
from vae_core.device import DEVICE_CHOICES, PRECISIONS, resolve_device
from vae_core.distributed import (
    LeaderFailed,
    PeerLost,
    current_team,
    join,
    lost_peer,
    process_label,
)
from vae_core.errors import VaeStudioError, one_line
from vae_core.evaluation.analysis import amortization_gap, check_sample_counts, importance_sampling_study
from vae_core.evaluation.estimates import evaluate_model
from vae_core.models import MODEL_FAMILIES
from vae_core.models.code_priors import CODE_PRIORS
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ACTIVATIONS, ARCHITECTURES
from vae_core.models.priors import PRIORS
from vae_core.presets import load_preset, preset_names
from vae_core.run_folder import (
    BEST_NAME,
    CHECKPOINT_NAME,
    METRICS_NAME,
    RunFolderLock,
    holds_run,
    remove_stale_partials,
)
from vae_core.terminal import DownloadBar, EvaluationBar, ProgressBar
from vae_core.training.headless import DEFAULT_SAVE_EVERY_MINUTES, train_in_folder
from vae_core.training.schedules import BETA_SCHEDULES, LR_SCHEDULES
from vae_core.training.trainer import Trainer, TrainingDiverged

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
    "log_every": ("train", "log_every"),
    "heldout_every": ("train", "heldout_every"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def _folder_name(text: str) -> Path:
    # Path("") is Path("."): an empty name would quietly mean the current folder.
    if not text.strip():
        raise argparse.ArgumentTypeError(f"needs a folder name, got {text!r}")
    return Path(text)


def _hidden_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 400 or 400,200, got '{text}'") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive integers, got '{text}'")
    return sizes


def _adam_betas(text: str) -> tuple[float, float]:
    try:
        betas = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like 0.9,0.999, got '{text}'") from None
    if len(betas) != 2 or not all(0 <= beta < 1 for beta in betas):
        raise argparse.ArgumentTypeError(f"expected two numbers in [0, 1) like 0.9,0.999, got '{text}'")
    return betas


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    value = _non_negative_int(text)
    if value >= 2**63:  # what torch and numpy take
        raise argparse.ArgumentTypeError(f"expected a number below 2**63, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got '{text}'")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number > 0, got 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vae-studio", description="Train and explore variational autoencoders.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model headless")
    train.add_argument("--out", required=True, type=_folder_name, help="run folder for checkpoint, config and metrics")
    starting_point = train.add_mutually_exclusive_group()
    starting_point.add_argument("--config", type=Path, help="a TOML or JSON run config; flags override it")
    starting_point.add_argument(
        "--preset", metavar="NAME", help=f"a named run config from resources/presets ({', '.join(preset_names())}); flags override it"
    )
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    train.add_argument("--overwrite", action="store_true", help="replace the run that --out holds")
    train.add_argument(
        "--save-every", type=_positive_float, default=DEFAULT_SAVE_EVERY_MINUTES, metavar="MINUTES",
        help=f"save a checkpoint this often while training (default {DEFAULT_SAVE_EVERY_MINUTES:g})",
    )  # fmt: skip
    train.add_argument(
        "--max-minutes", type=_positive_float, metavar="M",
        help="stop after M minutes (counted from the start of the command), save, and exit 0",
    )  # fmt: skip
    # Flags default to None so that only the ones given override the config.
    train.add_argument("--model", choices=sorted(MODEL_FAMILIES))
    train.add_argument("--prior", choices=sorted(PRIORS))
    train.add_argument("--prior-components", type=_positive_int, metavar="K")
    train.add_argument("--likelihood", choices=sorted(LIKELIHOODS))
    train.add_argument("--arch", choices=sorted(ARCHITECTURES))
    train.add_argument("--hidden", type=_hidden_sizes, metavar="400[,200...]")
    train.add_argument("--latent-dim", type=_positive_int, metavar="D", help="latent size (hvae: of z2, the top layer)")
    train.add_argument("--activation", choices=sorted(ACTIVATIONS), help="the dense layers' nonlinearity")
    train.add_argument("--lower-latent-dim", type=_positive_int, metavar="D", help="hvae: the size of z1 (default 100)")
    train.add_argument("--upper-hidden", type=_hidden_sizes, metavar="100[,100...]", help="hvae: layers between z1 and z2")
    train.add_argument("--beta", type=_non_negative_float, metavar="B")
    train.add_argument("--beta-schedule", choices=sorted(BETA_SCHEDULES))
    train.add_argument("--iw-samples", type=_positive_int, metavar="K", help="IWAE objective with K samples (1 = ELBO)")
    train.add_argument("--codebook-size", type=_positive_int, metavar="K", help="VQ-VAE: number of codebook vectors")
    train.add_argument("--code-positions", type=_positive_int, metavar="N", help="VQ-VAE (dense networks): code vectors per image")
    train.add_argument("--commitment", type=_non_negative_float, metavar="W", help="VQ-VAE: commitment loss weight")
    train.add_argument(
        "--codebook-ema", action="store_true", default=None, help="VQ-VAE: update the codebook by moving averages"
    )
    train.add_argument("--code-prior", choices=sorted(CODE_PRIORS), help="VQ-VAE: the prior over codes it samples from")
    train.add_argument("--dataset", metavar="NAME", help=f"one of {', '.join(NAMED_DATASETS)}, or {', '.join(k + ':PATH' for k in LOCATED_DATASETS)}")
    train.add_argument("--data-dir", metavar="DIR")
    train.add_argument("--mirror", action="append", metavar="URL", help="a base URL to download data from (repeatable)")
    train.add_argument("--image-size", type=_positive_int, metavar="PX", help="resize your own images to PX x PX")
    train.add_argument("--color", choices=("grayscale", "rgb"), help="channels of your own images")
    train.add_argument("--epochs", type=_positive_int, metavar="E")
    train.add_argument("--max-steps", type=_positive_int, metavar="S")
    train.add_argument("--batch-size", type=_positive_int, metavar="N")
    train.add_argument("--lr", type=_positive_float, help="the base learning rate, which --lr-schedule multiplies")
    train.add_argument("--lr-schedule", choices=sorted(LR_SCHEDULES))
    train.add_argument("--lr-warmup-steps", type=_positive_int, metavar="S", help="steps of the cosine schedule's linear warm-up")
    train.add_argument("--adam-betas", type=_adam_betas, metavar="B1,B2", help="Adam's moment decay rates (default 0.9,0.999)")
    train.add_argument("--adam-eps", type=_positive_float, metavar="EPS", help="Adam's eps (default 1e-8)")
    train.add_argument("--seed", type=_seed)
    train.add_argument("--device", choices=DEVICE_CHOICES)
    train.add_argument("--precision", choices=tuple(PRECISIONS), help="bf16: autocast where the device has it (default fp32)")
    train.add_argument("--log-every", type=_positive_int, metavar="STEPS")
    train.add_argument(
        "--heldout-every", type=_non_negative_int, metavar="STEPS",
        help="evaluate the ELBO of held-out training examples this often (0: hold none out)",
    )  # fmt: skip

    evaluate = commands.add_parser("evaluate", help="print test-set figures of a trained run as JSON")
    evaluate.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    evaluate.add_argument("--iw-samples", type=_positive_int, default=1, metavar="K")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument("--limit", type=_positive_int, metavar="N", help="evaluate the first N examples only")
    evaluate.add_argument("--data-dir", metavar="DIR", help="where the data set's files are, if moved")
    evaluate.add_argument("--device", choices=DEVICE_CHOICES, default="auto")

    analyze = commands.add_parser(
        "analyze", help="for one example: amortization and approximation gaps, IS with prior vs posterior proposals"
    )
    analyze.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    analyze.add_argument("--index", type=int, default=0, metavar="N", help="which example of the split")
    analyze.add_argument("--split", choices=("test", "train"), default="test")
    analyze.add_argument("--steps", type=_positive_int, default=300, help="gradient steps optimising q for this input")
    analyze.add_argument("--k", type=_positive_int, nargs="+", default=[1, 10, 100, 1000], metavar="K",
                         help="importance sample counts to compare")
    analyze.add_argument("--data-dir", metavar="DIR", help="where the data set's files are, if moved")
    analyze.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    return parser


def _apply_flags(config: RunConfig, arguments: argparse.Namespace) -> RunConfig:
    sections = {name: getattr(config, name) for name in ("data", "model", "train")}
    for flag, (section, key) in _CONFIG_FLAGS.items():
        value = getattr(arguments, flag, None)
        if value is not None:
            sections[section] = dataclasses.replace(sections[section], **{key: value})
    if arguments.max_steps is None and arguments.epochs is not None:
        sections["train"] = dataclasses.replace(sections["train"], max_steps=None)
    return RunConfig(**sections)


def _starting_config(arguments: argparse.Namespace) -> RunConfig:
    """What a new run starts from, before its flags: a config file, a preset, or the data set's defaults."""
    if arguments.config is not None:
        return RunConfig.from_file(arguments.config)
    if arguments.preset is not None:
        return load_preset(arguments.preset).config
    return defaults_for(arguments.dataset or DataConfig().dataset)


def _train(arguments: argparse.Namespace) -> int:
    deadline = None if arguments.max_minutes is None else time.monotonic() + 60 * arguments.max_minutes
    out: Path = arguments.out
    if arguments.resume and (arguments.config is not None or arguments.preset is not None):
        raise VaeStudioError("--resume continues with the checkpoint's own config: drop --config and --preset")
    # Read before the folder is locked: a checkpoint is replaced whole, never seen half-written.
    checkpoint = load_checkpoint(out / CHECKPOINT_NAME) if arguments.resume else None
    config = checkpoint.config if checkpoint is not None else _starting_config(arguments)
    config = _apply_flags(config, arguments)
    team, device = join(resolve_device(config.train.device))
    try:
        with contextlib.ExitStack() as folder:
            team.on_leader(lambda: _take_folder(arguments, out, folder))
            return _train_in_folder(arguments, out, config, checkpoint, device, deadline)
    finally:
        team.close()


def _take_folder(arguments: argparse.Namespace, out: Path, folder: contextlib.ExitStack) -> None:
    """Lock the run folder for this run (held until `folder` closes) and check it may be written."""
    folder.enter_context(RunFolderLock(out))
    for partial in remove_stale_partials(out):
        print(f"note: removed {partial.name}, left by a save that did not finish", file=sys.stderr)
    if not arguments.resume and holds_run(out) and not arguments.overwrite:
        raise VaeStudioError(f"{out} already holds a run: continue it with --resume, or replace it with --overwrite")


def _train_in_folder(arguments, out: Path, config: RunConfig, checkpoint, device, deadline: float | None) -> int:
    team = current_team()
    checkpoint_path = out / CHECKPOINT_NAME
    data = team.leader_then_others(lambda: load_data(config.data, progress=DownloadBar() if team.leader else None))
    if checkpoint is not None:
        _check_data_fits(checkpoint_path, checkpoint.config.model, data)
    trainer = Trainer(config, data, device)
    if checkpoint is not None:
        try:
            trainer.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
        except (RuntimeError, ValueError) as error:
            raise VaeStudioError(f"{checkpoint_path}: cannot resume with these settings ({str(error).splitlines()[0]})") from None
        # The checkpoint brings back its own learning rate and beta; flags given now win.
        if arguments.lr is not None:
            trainer.set_learning_rate(arguments.lr)
        if arguments.beta is not None:
            trainer.set_beta(arguments.beta)
    elif arguments.overwrite and team.leader:
        # The replaced run's checkpoints must not outlive its metrics.
        for name in (CHECKPOINT_NAME, BEST_NAME):
            (out / name).unlink(missing_ok=True)
    append = arguments.resume and (out / METRICS_NAME).exists()
    if team.leader:
        for note in data.train.notes:
            print(f"note: {note}", file=sys.stderr)
        heldout = "" if trainer.heldout is None else f" ({len(trainer.heldout):,} held out for the held-out curve)"
        processes = f" in {team.world_size} processes" if team.world_size > 1 else ""
        print(f"{data.train.describe()}{heldout}; training {config.model.family} on {trainer.device}{processes}", file=sys.stderr)
    bar = ProgressBar(enabled=team.leader)
    # The checkpoint carries the curves, so that the window shows them when it opens the run.
    history = list(checkpoint.history) if checkpoint is not None and checkpoint.history is not None else []
    try:
        return train_in_folder(
            trainer, out, history, append, arguments.save_every, on_snapshot=bar.update,
            say=lambda line: print(line, file=sys.stderr), deadline=deadline,
        )  # fmt: skip
    finally:
        bar.close()


def _load_run(arguments: argparse.Namespace, device: torch.device):
    """The run's model on `device` and the chosen split of its data."""
    model, checkpoint = load_model(arguments.run_dir / CHECKPOINT_NAME, device)
    data_config = checkpoint.config.data
    if arguments.data_dir is not None:
        data_config = dataclasses.replace(data_config, data_dir=arguments.data_dir)
    team = current_team()
    split = team.leader_then_others(lambda: load_data(data_config, progress=DownloadBar() if team.leader else None))
    _check_data_fits(arguments.run_dir / CHECKPOINT_NAME, checkpoint.config.model, split)
    return model, split.test if arguments.split == "test" else split.train


def _check_data_fits(checkpoint_path: Path, model_config: ModelConfig, data: DataSplit) -> None:
    """The data a checkpoint's config names is read anew, and its files may have been replaced
    since the model trained on them: a model fed other shapes fails deep inside torch."""
    found, trained = tuple(data.train.image_shape), tuple(model_config.input_shape)
    if found != trained:
        raise VaeStudioError(
            f"{checkpoint_path}: its data set now holds {_size_text(found)} examples, the model was trained on"
            f" {_size_text(trained)}"
        )
    if data.train.num_classes != model_config.num_classes:
        raise VaeStudioError(
            f"{checkpoint_path}: its data set now has {data.train.num_classes} classes, the model was trained on"
            f" {model_config.num_classes}"
        )


def _size_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _evaluate(arguments: argparse.Namespace) -> int:
    """Under torchrun each process evaluates its share of the batches; the leader prints."""
    team, device = join(resolve_device(arguments.device))
    bar = EvaluationBar(f"evaluating with K = {arguments.iw_samples:,}", enabled=team.leader)
    try:
        model, data = _load_run(arguments, device)
        results = evaluate_model(model, data, iw_samples=arguments.iw_samples, limit=arguments.limit, progress=bar)
    finally:
        bar.close()
        team.close()
    results["split"] = arguments.split
    if team.leader:
        print(
            f"evaluated {results['examples']:,} {arguments.split} examples with K = {arguments.iw_samples:,} in"
            f" {results['seconds']:.1f} s on {results['threads']} threads",
            file=sys.stderr,
        )
        print(json.dumps(results))
    return 0


def _analyze(arguments: argparse.Namespace) -> int:
    check_sample_counts(tuple(arguments.k))
    model, data = _load_run(arguments, resolve_device(arguments.device))
    if not 0 <= arguments.index < len(data):
        raise VaeStudioError(f"--index must be in 0..{len(data) - 1} for the {arguments.split} split")
    image, label = data.batch(torch.tensor([arguments.index]))
    label = int(label[0]) if model.conditional else None
    gap = amortization_gap(model, image[0], label, steps=arguments.steps)
    study = importance_sampling_study(model, image[0], label, sample_counts=tuple(arguments.k))
    print(json.dumps({
        "split": arguments.split,
        "index": arguments.index,
        "amortized_elbo": gap.amortized_elbo,
        "optimized_elbo": gap.optimized_elbo,
        "log_likelihood_is": gap.log_likelihood,
        "exact_log_likelihood": gap.exact_log_likelihood,
        "amortization_gap": gap.amortization_gap,
        "approximation_gap": gap.approximation_gap,
        "importance_sampling": [dataclasses.asdict(estimate) for estimate in study.estimates],
    }))
    return 0


# Errors every process of a torchrun team meets alike, which the first one reports.
_SAID_BY_THE_LEADER = (PeerLost, TrainingDiverged, ConfigError)

_COMMANDS = {"train": _train, "evaluate": _evaluate, "analyze": _analyze}


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        try:
            return _COMMANDS[arguments.command](arguments)
        except RuntimeError as error:  # a collective that lost its peer: one line like the others
            lost = lost_peer(error)
            if lost is error:
                raise
            raise lost from None
    except VaeStudioError as error:
        # Under torchrun the first process speaks for the run; the others add only what is theirs.
        if not isinstance(error, LeaderFailed) and not (process_label() and isinstance(error, _SAID_BY_THE_LEADER)):
            print(f"vae-studio: error: {process_label()}{error}", file=sys.stderr)
        return 1
    except OSError as error:  # a run folder that cannot be written, a full disk
        reason = f"{error.filename or ''}: {error.strerror or error}"
        print(f"vae-studio: error: {one_line(reason)}", file=sys.stderr)
        return 1
    except torch.cuda.OutOfMemoryError:
        print("vae-studio: error: the device ran out of memory: try a smaller batch size", file=sys.stderr)
        return 1
