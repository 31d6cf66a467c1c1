"""The headless command line: `train` and `evaluate`, with the same core as the window."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from vae_core.checkpoint import load_checkpoint
from vae_core.cli_flags import apply_flags, build_parser
from vae_core.config import ConfigError, DataConfig, ModelConfig, RunConfig
from vae_core.data import DataSplit, load_data
from vae_core.defaults import defaults_for
from vae_core.device import resolve_device
from vae_core.distributed import (
    LeaderFailed,
    PeerLost,
    current_team,
    join,
    lost_peer,
    process_label,
)
from vae_core.errors import VaeStudioError, one_line
from vae_core.evaluation.analysis import (
    _STUDY_CHUNK as STUDY_CHUNK,
)
from vae_core.evaluation.analysis import (
    amortization_gap,
    check_sample_counts,
    importance_sampling_study,
)
from vae_core.evaluation.estimates import evaluate_model
from vae_core.evaluation.gradient_estimators import (
    check_gradient_counts,
    gradient_variance_study,
)
from vae_core.evaluation.observation import observed_examples
from vae_core.evaluation.true_posterior import (
    log_likelihood_quadrature,
    quadrature_applies,
)
from vae_core.export import export_run
from vae_core.export.model_folder import model_source, open_model
from vae_core.memory import check_study_fits
from vae_core.presets import load_preset
from vae_core.requeue import REQUEUE_SIGNALS
from vae_core.run_folder import (
    BEST_NAME,
    CHECKPOINT_NAME,
    METRICS_NAME,
    RunFolderLock,
    holds_run,
    remove_stale_partials,
)
from vae_core.run_record import resumed_history
from vae_core.tensorboard_log import TensorBoardLog, add_evaluation
from vae_core.terminal import DownloadBar, EvaluationBar, ProgressBar
from vae_core.training import budget
from vae_core.training.budget import TimeBudget
from vae_core.training.headless import train_in_folder
from vae_core.training.trainer import Trainer, TrainingDiverged


def _starting_config(arguments: argparse.Namespace) -> RunConfig:
    """What a new run starts from, before its flags: a config file, a preset, or the data set's defaults."""
    if arguments.config is not None:
        return RunConfig.from_file(arguments.config)
    if arguments.preset is not None:
        return load_preset(arguments.preset).config
    return defaults_for(arguments.dataset or DataConfig().dataset)


def _train(arguments: argparse.Namespace) -> int:
    started = budget.now()  # the time budget counts from the command's start
    out: Path = arguments.out
    if arguments.resume == "auto":
        _resolve_auto_resume(arguments)
    elif arguments.resume and (arguments.config is not None or arguments.preset is not None):
        raise VaeStudioError(
            "--resume continues with the checkpoint's own config: drop --config and --preset"
        )
    # Read before the folder is locked: a checkpoint is replaced whole, never seen half-written.
    checkpoint = load_checkpoint(out / CHECKPOINT_NAME) if arguments.resume else None
    config = checkpoint.config if checkpoint is not None else _starting_config(arguments)
    config = apply_flags(config, arguments)
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    minutes = config.train.max_minutes
    deadline = None if minutes is None else started + 60 * minutes
    team, device = join(resolve_device(config.train.device))
    try:
        with contextlib.ExitStack() as folder:
            team.on_leader(lambda: _take_folder(arguments, out, folder))
            return _train_in_folder(arguments, out, config, checkpoint, device, deadline)
    finally:
        team.close()


def _resolve_auto_resume(arguments: argparse.Namespace) -> None:
    """`--resume auto`: resume where --out holds a checkpoint, else start (replacing what a run
    killed before its first save left). On resuming, the checkpoint's config wins over --config
    and --preset, which the same command line gives again."""
    arguments.resume = (arguments.out / CHECKPOINT_NAME).exists()
    if arguments.resume:
        arguments.config = arguments.preset = None
    else:
        arguments.overwrite = True


def _take_folder(arguments: argparse.Namespace, out: Path, folder: contextlib.ExitStack) -> None:
    """Lock the run folder for this run (held until `folder` closes) and check it may be written."""
    folder.enter_context(RunFolderLock(out))
    for partial in remove_stale_partials(out):
        print(f"note: removed {partial.name}, left by a save that did not finish", file=sys.stderr)
    if not arguments.resume and holds_run(out) and not arguments.overwrite:
        raise VaeStudioError(
            f"{out} already holds a run: continue it with --resume, or replace it with --overwrite"
        )


def _train_in_folder(
    arguments, out: Path, config: RunConfig, checkpoint, device, deadline: float | None
) -> int:
    team = current_team()
    checkpoint_path = out / CHECKPOINT_NAME
    data = team.leader_then_others(
        lambda: load_data(config.data, progress=DownloadBar() if team.leader else None)
    )
    if checkpoint is not None:
        _check_data_fits(checkpoint_path, checkpoint.config.model, data)
    trainer = Trainer(
        config, data, device, say=lambda line: print(line, file=sys.stderr) if team.leader else None
    )
    if checkpoint is not None:
        _resume(trainer, checkpoint, checkpoint_path, arguments)
    elif arguments.overwrite and team.leader:
        # The replaced run's checkpoints must not outlive its metrics.
        for name in (CHECKPOINT_NAME, BEST_NAME):
            (out / name).unlink(missing_ok=True)
    if deadline is not None:
        trainer.time_budget = TimeBudget(deadline)
    if team.leader:
        _say_what_trains(data, trainer, team.world_size)
    bar = ProgressBar(enabled=team.leader)
    history = [] if checkpoint is None else resumed_history(checkpoint, out / METRICS_NAME)
    board = _tensorboard(trainer, out) if config.train.tensorboard and team.leader else None
    try:
        code = train_in_folder(
            trainer,
            out,
            history,
            arguments.save_every,
            on_snapshot=bar.update if board is None else _both(bar.update, board.add_snapshot),
            say=lambda line: print(line, file=sys.stderr),
            requeue_signal=REQUEUE_SIGNALS[arguments.requeue_signal],
        )
        if board is not None and code == 0:
            board.finish(trainer.config, history, data.test)
        return code
    finally:
        bar.close()
        if board is not None:
            board.close()


def _resume(trainer: Trainer, checkpoint, checkpoint_path: Path, arguments) -> None:
    """The trainer where the checkpoint left off; the flags given now win over its learning rate
    and β."""
    try:
        trainer.restore(
            checkpoint.model_state,
            checkpoint.optimizer_state,
            checkpoint.counters,
            checkpoint.ema_state,
        )
    except (RuntimeError, ValueError) as error:
        raise VaeStudioError(
            f"{checkpoint_path}: cannot resume with these settings ({str(error).splitlines()[0]})"
        ) from None
    if arguments.lr is not None:
        trainer.set_learning_rate(arguments.lr)
    if arguments.beta is not None:
        trainer.set_beta(arguments.beta)


def _say_what_trains(data: DataSplit, trainer: Trainer, processes: int) -> None:
    for note in data.train.notes:
        print(f"note: {note}", file=sys.stderr)
    heldout = (
        ""
        if trainer.heldout is None
        else f" ({len(trainer.heldout):,} held out for the held-out curve)"
    )
    where = f" in {processes} processes" if processes > 1 else ""
    print(
        f"{data.train.describe()}{heldout}; training {trainer.config.model.family} on {trainer.device}{where}",
        file=sys.stderr,
    )


def _both(first: Callable, second: Callable) -> Callable:
    def both(snapshot) -> None:
        first(snapshot)
        second(snapshot)

    return both


def _tensorboard(trainer: Trainer, out: Path) -> TensorBoardLog:
    """The run's event files, showing the held-out examples (the training ones where none are)."""
    examples = trainer.heldout if trainer.heldout is not None else trainer.data
    return TensorBoardLog(out, trainer.model, examples, resumed_at=trainer.step)


def _load_run(arguments: argparse.Namespace, device: torch.device):
    """The run's model on `device`, the chosen split of its data and the step it was saved at;
    RUN_DIR may be a run folder, a checkpoint file or a model folder (`export --format folder`)."""
    model, checkpoint = open_model(arguments.run_dir, device)
    data_config = checkpoint.config.data
    if arguments.data_dir is not None:
        data_config = dataclasses.replace(data_config, data_dir=arguments.data_dir)
    team = current_team()
    split = team.leader_then_others(
        lambda: load_data(data_config, progress=DownloadBar() if team.leader else None)
    )
    _check_data_fits(model_source(arguments.run_dir), checkpoint.config.model, split)
    step = int(checkpoint.counters["step"]) if "step" in checkpoint.counters else 0
    return model, split.test if arguments.split == "test" else split.train, step


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
    if arguments.threads is not None:
        torch.set_num_threads(arguments.threads)
    team, device = join(resolve_device(arguments.device))
    bar = EvaluationBar(f"evaluating with K = {arguments.iw_samples:,}", enabled=team.leader)
    try:
        model, data, step = _load_run(arguments, device)
        results = evaluate_model(
            model, data, iw_samples=arguments.iw_samples, limit=arguments.limit, progress=bar
        )
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
        _print_json(results, arguments.pretty)
        _add_to_tensorboard(arguments.run_dir, results, step)
    return 0


def _add_to_tensorboard(run_dir: Path, results: dict, step: int) -> None:
    """A run that logs to TensorBoard gains evaluate's figures; without the package, one note."""
    try:
        add_evaluation(run_dir, results, step)
    except VaeStudioError as error:
        print(f"note: the figures were not added to TensorBoard ({error})", file=sys.stderr)


def _analyze(arguments: argparse.Namespace) -> int:
    check_sample_counts(tuple(arguments.k))
    check_gradient_counts(tuple(arguments.gradient_k))
    device = resolve_device(arguments.device)
    model, data, _ = _load_run(arguments, device)
    # The study draws up to STUDY_CHUNK samples at once, each decoded: a large model's chunk can
    # take more memory than its training did.
    check_study_fits(model.config, min(max(arguments.k), STUDY_CHUNK), device)
    if not 0 <= arguments.index < len(data):
        raise VaeStudioError(
            f"--index must be in 0..{len(data) - 1} for the {arguments.split} split"
        )
    index = torch.tensor([arguments.index])
    image, label = data.batch(index)
    # The binary image evaluate scores for this index (observing a binary image again keeps it).
    image = observed_examples(model, image.to(next(model.parameters()).device), index)
    label = int(label[0]) if model.conditional else None
    gap = amortization_gap(model, image[0], label, steps=arguments.steps)
    study = importance_sampling_study(model, image[0], label, sample_counts=tuple(arguments.k))
    quadrature = (
        log_likelihood_quadrature(model, image[0], label) if quadrature_applies(model) else None
    )
    gradients = gradient_variance_study(
        model, image[0], label, sample_counts=tuple(arguments.gradient_k)
    )
    _print_json(
        {
            "split": arguments.split,
            "index": arguments.index,
            "amortized_elbo": gap.amortized_elbo,
            "optimized_elbo": gap.optimized_elbo,
            "log_likelihood_is": gap.log_likelihood,
            "exact_log_likelihood": gap.exact_log_likelihood,
            "log_likelihood_quadrature": quadrature,
            "amortization_gap": gap.amortization_gap,
            "approximation_gap": gap.approximation_gap,
            "importance_sampling": [dataclasses.asdict(estimate) for estimate in study.estimates],
            "gradient_variance": gradients.variances(),
            "gradient_variance_se": gradients.variances(errors=True),
        },
        arguments.pretty,
    )
    return 0


def _print_json(values: dict, pretty: bool) -> None:
    print(json.dumps(values, indent=2 if pretty else None))


def _export(arguments: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, file=sys.stderr)

    fine = export_run(
        arguments.run_dir,
        arguments.format,
        arguments.out,
        say,
        iw_samples=arguments.iw_samples,
        limit=arguments.limit,
        data_dir=arguments.data_dir,
    )
    return 0 if fine else 1


# Errors every process of a torchrun team meets alike, which the first one reports.
_SAID_BY_THE_LEADER = (PeerLost, TrainingDiverged, ConfigError)

_COMMANDS = {"train": _train, "evaluate": _evaluate, "analyze": _analyze, "export": _export}


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
        if not isinstance(error, LeaderFailed) and not (
            process_label() and isinstance(error, _SAID_BY_THE_LEADER)
        ):
            print(f"vae-studio: error: {process_label()}{error}", file=sys.stderr)
        return 1
    except OSError as error:  # a run folder that cannot be written, a full disk
        reason = f"{error.filename or ''}: {error.strerror or error}"
        print(f"vae-studio: error: {one_line(reason)}", file=sys.stderr)
        return 1
    except torch.cuda.OutOfMemoryError:
        print(
            "vae-studio: error: the device ran out of memory: try a smaller batch size",
            file=sys.stderr,
        )
        return 1
