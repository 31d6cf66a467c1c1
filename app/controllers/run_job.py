"""One run, on its own worker: load the data, build the trainer, train, and wait for commands
(Qt-free; the run controller starts it with `app.workers.start_job`).

The live `Trainer` stays on this thread for the run's whole life. The GUI thread holds the run's
`RunCommands`: β and the learning rate reach the trainer through its thread-safe setters; pause and
stop through its flags; everything else (saves, edits, resume, step, continue) waits in a queue
that this job serves where the trainer's state is consistent: right after a snapshot, while
paused, and after the run has ended (a stopped run stays in memory, continuable, until the next
run, another model on show or the window's close ends this job).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.controllers.pacing import LogPacer, SpeedLimit
from app.workers import DataCache
from vae_core.checkpoint import Checkpoint, save_trainer
from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.models import LatentModel, build_model
from vae_core.training.trainer import Trainer, TrainingSnapshot

# Training examples whose encoder outputs reset codebook vectors are drawn from.
RESEED_EXAMPLES = 1024
# How often a waiting job looks at its end flag.
WAIT_S = 0.1


# What the job yields, besides snapshots.
@dataclass(frozen=True)
class RunStarted:
    config: RunConfig  # complete: input shape and classes from the data
    device: str
    test_data: ImageDataset
    notes: tuple[str, ...]
    described: str  # the training data, in words
    viewer: LatentModel  # a CPU copy built here, for the GUI thread's decodes; no one else holds it
    weights: dict[str, torch.Tensor]  # its starting weights, a copy
    step: int  # where training starts (a resumed run: the checkpoint's step)


@dataclass(frozen=True)
class RunPaused:
    step: int


@dataclass(frozen=True)
class RunEnded:
    finished: bool  # the budget is spent (else: stopped, and Continue goes on)
    step: int


@dataclass(frozen=True)
class CheckpointSaved:
    path: str


@dataclass(frozen=True)
class SaveFailed:
    message: str


def reseed_codes(codes: Sequence[int], trainer: Trainer) -> None:
    """Move the training model's codebook vectors `codes` onto encoder outputs of random
    training examples (VQ-VAE's dead-code reset)."""
    generator = torch.Generator(trainer.device).manual_seed(trainer.step)
    count = min(RESEED_EXAMPLES, len(trainer.data))
    indices = torch.randperm(len(trainer.data), generator=generator, device=trainer.device)[:count]
    images, _ = trainer.data.batch(indices)
    with torch.no_grad():
        encoded = trainer.model.encode(images)
    trainer.model.quantizer.reseed(codes, encoded, generator)


@dataclass(frozen=True)
class _Save:
    path: Path
    history: np.ndarray  # a copy of the metric rows, for the checkpoint


class _ApplyEdits:
    pass


class _Resume:
    pass


class _Step:
    pass


class _Continue:
    pass


class RunCommands:
    """The GUI thread's handle on a run: every method is safe from any thread and returns at once."""

    def __init__(self, beta: float, learning_rate: float, steps_per_second: float | None = None):
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None
        self._beta = beta
        self._learning_rate = learning_rate
        self._steps_per_second = steps_per_second
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self.stop_requested = threading.Event()
        self._pause_asked = threading.Event()
        self.ended = threading.Event()  # the job must return
        self.done = threading.Event()  # the job has returned

    def attach(self, trainer: Trainer) -> None:
        """On the job's thread: the trainer now takes the commands (and those given meanwhile)."""
        with self._lock:
            self._trainer = trainer
            trainer.set_beta(self._beta)
            trainer.set_learning_rate(self._learning_rate)
        if self.stop_requested.is_set():
            trainer.stop()

    def _with_trainer(self, command: Callable[[Trainer], None]) -> None:
        with self._lock:
            if self._trainer is not None:
                command(self._trainer)

    def set_beta(self, beta: float) -> None:
        with self._lock:
            self._beta = beta
        self._with_trainer(lambda trainer: trainer.set_beta(beta))

    def set_learning_rate(self, learning_rate: float) -> None:
        with self._lock:
            self._learning_rate = learning_rate
        self._with_trainer(lambda trainer: trainer.set_learning_rate(learning_rate))

    @property
    def steps_per_second(self) -> float | None:
        with self._lock:
            return self._steps_per_second

    def set_speed(self, steps_per_second: float | None) -> None:
        """Train at most this many steps a second from the next snapshot on (None: at full speed)."""
        with self._lock:
            self._steps_per_second = steps_per_second

    def pause(self) -> None:
        self._pause_asked.set()
        self._with_trainer(Trainer.pause_at_next_snapshot)

    def pause_asked(self) -> bool:
        """Whether a pause was asked for since the job last looked (it looks once)."""
        asked = self._pause_asked.is_set()
        self._pause_asked.clear()
        return asked

    def resume(self) -> None:
        self._pause_asked.clear()
        self._requests.put(_Resume())

    def step(self) -> None:
        """From a pause: exactly one optimisation step, then pause again."""
        self._requests.put(_Step())

    def stop(self) -> None:
        self.stop_requested.set()
        self._with_trainer(Trainer.stop)

    def continue_run(self) -> None:
        self._requests.put(_Continue())

    def save(self, path: str | Path, history: np.ndarray) -> None:
        self._requests.put(_Save(Path(path), history))

    def edit(self, edit: Callable[[Trainer], None]) -> None:
        """Change the training model in place where it is safe (between steps, or paused)."""
        self._with_trainer(lambda trainer: trainer.call_between_steps(edit))
        # A running trainer applies it before its next step; paused or stopped, this job does.
        self._requests.put(_ApplyEdits())

    def end(self) -> None:
        """The run is no longer wanted: stop it and let its job return."""
        self.ended.set()
        self.stop()

    def next_request(self, block: bool):
        try:
            return self._requests.get(block=block, timeout=WAIT_S if block else None)
        except queue.Empty:
            return None


def run_job(
    config: RunConfig,
    checkpoint: Checkpoint | None,
    commands: RunCommands,
    data: DataCache,
    pacer: LogPacer,
) -> Iterator[object]:
    """The run's whole life: yields RunStarted, snapshots, RunPaused, RunEnded and save reports.
    Failures (data, resume, divergence, memory) propagate as exceptions."""
    try:
        yield from _run(config, checkpoint, commands, data, pacer)
    finally:
        commands.done.set()


def _run(config, checkpoint, commands: RunCommands, data: DataCache, pacer: LogPacer):
    split = data.get(config.data)
    if commands.stop_requested.is_set():
        return
    # The window trains eagerly: a compile (tens of seconds before the first step) would hold back
    # the first curves, and a run in the window is steered and watched rather than timed.
    paced = dataclasses.replace(config.train, log_every=pacer.first_log_every, compile=False)
    trainer = Trainer(dataclasses.replace(config, train=paced), split)
    if checkpoint is not None:
        try:
            trainer.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
        except (RuntimeError, ValueError) as error:
            raise VaeStudioError(
                f"cannot resume this checkpoint: {str(error).splitlines()[0]}"
            ) from None
    viewer = build_model(trainer.config.model).cpu().eval().requires_grad_(False)
    commands.attach(trainer)  # the controls' β and learning rate win over the checkpoint's
    yield RunStarted(
        trainer.config,
        str(trainer.device),
        split.test,
        tuple(split.train.notes),
        split.train.describe(),
        viewer,
        trainer.weights(),
        trainer.step,
    )
    while not commands.ended.is_set():
        yield from _train(trainer, commands, pacer)
        yield RunEnded(trainer.step >= trainer.total_steps, trainer.step)
        # Ended, kept in memory: saves are served, and Continue goes on from here.
        while not commands.ended.is_set():
            request = commands.next_request(block=True)
            if isinstance(request, _Continue) and trainer.step < trainer.total_steps:
                commands.stop_requested.clear()
                trainer.resume_after_stop()
                break
            yield from _serve(request, trainer)


def _train(trainer: Trainer, commands: RunCommands, pacer: LogPacer):
    generator = trainer.run(include_weights=True)
    limit = SpeedLimit()
    try:
        for snapshot in generator:
            yield snapshot
            yield from _serve_waiting(trainer, commands)
            if not snapshot.finished and not trainer.paused:
                _hold_to_speed(trainer, commands, limit, pacer)
                trainer.pause_now_if_asked()
            if trainer.paused and not commands.stop_requested.is_set():
                yield RunPaused(trainer.step)
                if (yield from _wait_while_paused(trainer, commands)):
                    trainer.set_log_every(1)
                    trainer.step_interval()
                    continue
            if not snapshot.finished and limit.steps_per_second is None:
                _repace(trainer, snapshot, pacer)
    finally:
        generator.close()


def _hold_to_speed(
    trainer: Trainer, commands: RunCommands, limit: SpeedLimit, pacer: LogPacer
) -> None:
    """Wait as the speed limit asks (a stop, a pause or a new limit cuts the wait short)."""
    if limit.set(commands.steps_per_second) and (
        log_every := limit.log_every(pacer.target_interval_s)
    ):
        trainer.set_log_every(log_every)
    while (wait := limit.wait_s(trainer.step, time.perf_counter())) > 0:
        if commands.stop_requested.wait(min(wait, WAIT_S)):
            return
        if commands.steps_per_second != limit.steps_per_second or commands.pause_asked():
            return


def _wait_while_paused(trainer: Trainer, commands: RunCommands):
    """Serve requests until Resume (False) or Step (True), or a stop."""
    while not commands.stop_requested.is_set():
        request = commands.next_request(block=True)
        if isinstance(request, _Resume):
            trainer.resume()
            return False
        if isinstance(request, _Step):
            return True
        yield from _serve(request, trainer)
    trainer.resume()  # let the trainer's generator see the stop
    return False


def _serve_waiting(trainer: Trainer, commands: RunCommands):
    while (request := commands.next_request(block=False)) is not None:
        yield from _serve(request, trainer)


def _serve(request, trainer: Trainer):
    if isinstance(request, _Save):
        try:
            save_trainer(request.path, trainer, request.history)
        except VaeStudioError as error:  # it names the file
            yield SaveFailed(str(error))
        else:
            yield CheckpointSaved(str(request.path))
    elif isinstance(request, _ApplyEdits):
        trainer.apply_edits()


def _repace(trainer: Trainer, snapshot: TrainingSnapshot, pacer: LogPacer) -> None:
    """Keep snapshots coming about ten times a second, whatever the model's speed."""
    steps_per_second = snapshot.images_per_s / trainer.config.train.batch_size
    log_every = pacer.next_log_every(trainer.log_every, steps_per_second)
    if log_every is not None:
        trainer.set_log_every(log_every)
