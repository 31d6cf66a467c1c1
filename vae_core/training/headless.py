"""A headless run in its run folder, made to survive: a checkpoint every few minutes, metrics.csv
flushed at every row, SIGTERM, SIGHUP and SIGINT answered with a save and the conventional exit
code, and a diverged run's last good weights kept."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vae_core.checkpoint import save_checkpoint, save_trainer
from vae_core.distributed import PeerLost, lost_peer
from vae_core.errors import VaeStudioError
from vae_core.requeue import requeue_job
from vae_core.run_folder import CHECKPOINT_NAME, METRICS_NAME
from vae_core.run_record import MetricsLog, write_config
from vae_core.training.best import BestKeeper
from vae_core.training.trainer import (
    Trainer,
    TrainingDiverged,
    TrainingSnapshot,
    metrics_row,
)

LAST_GOOD_NAME = "last_good.safetensors"
DEFAULT_SAVE_EVERY_MINUTES = 5.0
# Signals that end a run with a save; the exit code is 128 + the signal's number, as shells do.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


class RunStopped(Exception):
    """A stop signal arrived; the run saves and exits with `code`."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number
        self.code = 128 + signal_number


def _stop(signal_number: int, _frame) -> None:
    raise RunStopped(signal_number)


def _stop_signals(requeue_signal: int | None) -> tuple[int, ...]:
    return STOP_SIGNALS + ((requeue_signal,) if requeue_signal not in (None, *STOP_SIGNALS) else ())


@contextlib.contextmanager
def _stops(requeue_signal: int | None):
    """While training, stop signals and the requeue signal raise RunStopped (where signals can be
    handled, on the main thread). A deadline is the trainer's own (Trainer.time_budget)."""
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {
            number: signal.signal(number, _stop) for number in _stop_signals(requeue_signal)
        }
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def _ignore_stop_signals(requeue_signal: int | None = None) -> None:
    """A second signal must not cut a save short."""
    if threading.current_thread() is threading.main_thread():
        for number in _stop_signals(requeue_signal):
            signal.signal(number, signal.SIG_IGN)


def _stop_code(stop: BaseException) -> int:
    return stop.code if isinstance(stop, RunStopped) else 130


def train_in_folder(
    trainer: Trainer,
    out: Path,
    history: list,
    save_every_minutes: float = DEFAULT_SAVE_EVERY_MINUTES,
    on_snapshot: Callable[[TrainingSnapshot], None] | None = None,
    say: Callable[[str], None] = print,
    requeue_signal: int | None = None,
) -> int:
    """Train to the budget, saving on the way; the process's exit code. `history` holds the metric
    rows so far (a resumed run's, up to its checkpoint's step) and gains the new ones; the
    checkpoint carries them, and metrics.csv is always that history. A run whose time budget
    (Trainer.time_budget) is spent stops at its next step, saves, and exits 0.
    `requeue_signal` (a cluster's warning of its time limit) saves, asks SLURM to queue the job
    again (vae_core.requeue) and exits with 128 + its number.
    Under torchrun the leader alone writes the folder; the other processes train alongside."""
    if not trainer.team.leader:
        return _train_alongside(trainer, requeue_signal)
    checkpoint_path = out / CHECKPOINT_NAME
    write_config(out, trainer.config)
    last_good = None
    last_save = time.monotonic()
    best = BestKeeper(out, history)
    try:
        with (
            _stops(requeue_signal),
            MetricsLog(out / METRICS_NAME, history) as metrics,
        ):
            # Weights are copied at each snapshot: a divergence leaves the last good ones to keep.
            for snapshot in trainer.run(include_weights=True):
                last_good = snapshot
                history.append(metrics_row(snapshot))
                metrics.append(history[-1])
                if on_snapshot is not None:
                    on_snapshot(snapshot)
                best.offer(snapshot, trainer, history)
                if (
                    time.monotonic() - last_save >= 60 * save_every_minutes
                    and not snapshot.finished
                ):
                    save_trainer(checkpoint_path, trainer, history)
                    last_save = time.monotonic()
    except (RunStopped, KeyboardInterrupt) as stop:
        return _saved_on_stop(stop, trainer, out, history, best, say, requeue_signal)
    except TrainingDiverged as error:
        best.flush(trainer)
        if last_good is None:
            raise
        raise _kept_last_good(error, last_good, trainer, out, history) from None
    except (PeerLost, RuntimeError) as error:
        lost = error if isinstance(error, PeerLost) else lost_peer(error)
        if lost is error and not isinstance(error, PeerLost):
            raise
        raise _saved_on_lost_peer(lost, trainer, checkpoint_path, history) from None
    save_trainer(checkpoint_path, trainer, history)
    best.flush(trainer)
    trainer.team.barrier()  # the others end once the run folder is complete
    if trainer.step < trainer.total_steps:
        say(
            f"the time budget ran out at step {trainer.step:,}; saved {checkpoint_path} (continue with --resume)"
        )
    else:
        say(f"saved {checkpoint_path} after {trainer.step:,} steps")
    return 0


def _kept_last_good(
    error: TrainingDiverged, last_good: TrainingSnapshot, trainer: Trainer, out: Path, history
) -> VaeStudioError:
    """The last good snapshot's weights saved beside the run; the line that says where."""
    path = out / LAST_GOOD_NAME
    save_checkpoint(path, trainer.config, dict(last_good.model_state), history=history)
    return VaeStudioError(
        f"{error}; the weights of step {last_good.step:,}, the last good ones, are in {path}"
    )


def _saved_on_lost_peer(lost, trainer: Trainer, checkpoint_path: Path, history) -> PeerLost:
    """A torchrun peer is gone: the run saved where it is; the line that says so."""
    # The optimizer did not step past the counters: the weights are those of trainer.step.
    _ignore_stop_signals()
    save_trainer(checkpoint_path, trainer, history)
    return PeerLost(
        f"{lost}; saved {checkpoint_path} at step {trainer.step:,} (continue with --resume)"
    )


def _saved_on_stop(stop, trainer: Trainer, out: Path, history, best, say, requeue_signal) -> int:
    """The run saved after a stop signal (and its job requeued, for the requeue signal); the
    process's exit code."""
    _ignore_stop_signals(requeue_signal)
    checkpoint_path = out / CHECKPOINT_NAME
    save_trainer(checkpoint_path, trainer, history)
    best.flush(trainer)
    say(
        f"stopped by {stop if isinstance(stop, RunStopped) else 'SIGINT'} at step {trainer.step:,}; "
        f"saved {checkpoint_path} (continue with --resume)"
    )
    if isinstance(stop, RunStopped) and stop.signal_number == requeue_signal:
        requeue_job(say)
    return _stop_code(stop)


def _train_alongside(trainer: Trainer, requeue_signal: int | None) -> int:
    """A torchrun process other than the leader: it trains its share and writes nothing."""
    try:
        with _stops(requeue_signal):
            for _ in trainer.run():
                pass
    except (RunStopped, KeyboardInterrupt) as stop:
        return _stop_code(stop)
    trainer.team.barrier()
    return 0
