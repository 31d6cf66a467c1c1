"""One run, on its own worker: load the data, build the trainer, train, and wait for commands
(Qt-free; the run controller starts it with `app.workers.start_job`).

Pause, step, stop and continue live here, between the trainer's yields, and nowhere else: the
trainer's generator is suspended at each snapshot, so a paused run is simply one whose job does
not ask for the next snapshot yet, a step is one snapshot asked for after one step, and a stop
closes the generator. The live `Trainer` stays on this thread for the run's whole life. The GUI
thread holds the run's `RunCommands`, a mailbox: β, the learning rate and the speed limit reach
the run at once (the trainer's thread-safe setters); every other command waits in a queue that
this job serves where the trainer's state is consistent: right after a snapshot, while paused,
and after the run has ended (a stopped run stays in memory, continuable, until the next run,
another model on show or the window's close ends this job). The job reports each change of the
run's state (RunPaused, RunResumed, RunEnded), which the controller writes into `RunStatus`.
A held run also takes a step apart, one phase per command (step_apart_job.py).
"""

from __future__ import annotations

import dataclasses
import enum
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.controllers.pacing import LogPacer, SpeedLimit
from app.controllers.step_apart_job import StepInPhases, TakePhase
from app.workers import DataCache
from vae_core.checkpoint import Checkpoint, save_trainer
from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.errors import VaeStudioError
from vae_core.models import LatentModel, build_model
from vae_core.training.trainer import Trainer, TrainingSnapshot

# Training examples whose encoder outputs reset codebook vectors are drawn from.
RESEED_EXAMPLES = 1024
# How often a waiting job looks at its end flag and its speed limit.
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
class RunResumed:
    step: int  # after Resume, or Continue after a stop


@dataclass(frozen=True)
class RunEnded:
    finished: bool  # the budget is spent (else: stopped, and Continue goes on)
    step: int
    records: tuple[tuple[float, ...], ...] = ()  # the run's metric rows its snapshots did not carry


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


# The commands that wait in the job's queue.
@dataclass(frozen=True)
class _Save:
    path: Path
    history: np.ndarray  # a copy of the metric rows, for the checkpoint


@dataclass(frozen=True)
class _Edit:
    edit: Callable[[Trainer], None]


class _Command(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    STEP = "step"
    STOP = "stop"
    CONTINUE = "continue"
    PUT_ASIDE = "put aside"  # a step taken apart: drop the phases taken (any command does)


class RunCommands:
    """The GUI thread's mailbox to a run's job: every method is safe from any thread and returns
    at once. It keeps no state of the run's: the job reports that, and the controller's
    `RunStatus` holds it."""

    def __init__(self, beta: float, learning_rate: float, steps_per_second: float | None = None):
        self._lock = threading.Lock()
        self._trainer: Trainer | None = None
        self._beta = beta
        self._learning_rate = learning_rate
        self._steps_per_second = steps_per_second
        # Stopping, the steps still taken before the snapshot keep the run's β and learning rate:
        # a change made then (Leave lesson putting the user's β back) waits for the stop.
        self._stopping = False
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self.ended = threading.Event()  # the job must return
        self.done = threading.Event()  # the job has returned

    def attach(self, trainer: Trainer) -> None:
        """On the job's thread: the trainer now takes β and the learning rate (the latest given)."""
        with self._lock:
            self._trainer = trainer
            trainer.set_beta(self._beta)
            trainer.set_learning_rate(self._learning_rate)

    def set_beta(self, beta: float) -> None:
        with self._lock:
            self._beta = beta
            if self._trainer is not None and not self._stopping:
                self._trainer.set_beta(beta)

    def set_learning_rate(self, learning_rate: float) -> None:
        with self._lock:
            self._learning_rate = learning_rate
            if self._trainer is not None and not self._stopping:
                self._trainer.set_learning_rate(learning_rate)

    @property
    def steps_per_second(self) -> float | None:
        with self._lock:
            return self._steps_per_second

    def set_speed(self, steps_per_second: float | None) -> None:
        """Train at most this many steps a second from the next snapshot on (None: at full speed)."""
        with self._lock:
            self._steps_per_second = steps_per_second

    def pause(self) -> None:
        """Hold the run at its next snapshot (RunPaused tells when)."""
        self._requests.put(_Command.PAUSE)

    def resume(self) -> None:
        self._requests.put(_Command.RESUME)

    def step(self) -> None:
        """From a pause: exactly one optimisation step, then pause again."""
        self._requests.put(_Command.STEP)

    def stop(self) -> None:
        """End the training at its next snapshot (or at once, paused); Continue goes on."""
        with self._lock:
            self._stopping = True
        self._requests.put(_Command.STOP)

    def continue_run(self) -> None:
        self._requests.put(_Command.CONTINUE)

    def held(self) -> None:
        """On the job's thread, the run ended or stopped: the β and learning rate set while it
        was stopping are the trainer's now (a step taken apart, or Continue, uses them)."""
        with self._lock:
            if self._stopping and self._trainer is not None:
                self._trainer.set_beta(self._beta)
                self._trainer.set_learning_rate(self._learning_rate)
            self._stopping = False

    def take_phase(self, image: torch.Tensor, label: torch.Tensor | None) -> None:
        """Held (paused, stopped or finished): the next phase of a step taken apart, or the first
        phase of one on this input (step_apart_job.py); PhaseTaken tells what it found."""
        self._requests.put(TakePhase(image, label))

    def put_phases_aside(self) -> None:
        """Drop the phases of a step taken apart, its update not made (PhasesPutAside)."""
        self._requests.put(_Command.PUT_ASIDE)

    def save(self, path: str | Path, history: np.ndarray) -> None:
        self._requests.put(_Save(Path(path), history))

    def edit(self, edit: Callable[[Trainer], None]) -> None:
        """Change the training model in place, on the job's thread between two snapshots."""
        self._requests.put(_Edit(edit))

    def end(self) -> None:
        """The run is no longer wanted: its job returns as soon as it can (the trainer stops at
        its next step, not its next snapshot: nothing will continue it)."""
        self.ended.set()
        self._requests.put(_Command.STOP)  # wakes a waiting job
        with self._lock:
            if self._trainer is not None:
                self._trainer.stop()

    def next_request(self, wait_s: float = 0.0):
        """The oldest command not yet served, waiting up to `wait_s` for one (None if none came)."""
        try:
            return self._requests.get(block=wait_s > 0, timeout=wait_s if wait_s > 0 else None)
        except queue.Empty:
            return None


def run_job(
    config: RunConfig,
    checkpoint: Checkpoint | None,
    commands: RunCommands,
    data: DataCache,
    pacer: LogPacer,
) -> Iterator[object]:
    """The run's whole life: yields RunStarted, snapshots, RunPaused, RunResumed, RunEnded and
    save reports. Failures (data, resume, divergence, memory) propagate as exceptions."""
    try:
        yield from _run(config, checkpoint, commands, data, pacer)
    finally:
        commands.done.set()


def _run(config, checkpoint, commands: RunCommands, data: DataCache, pacer: LogPacer):
    split = data.get(config.data)
    if commands.ended.is_set():  # stopped while the data loaded: nothing to train or keep
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
    # The metric rows the command line would log (every config.train.log_every steps), whatever
    # the pace of the window's snapshots: what the metrics export and the run folder hold.
    trainer.keep_record(max(1, config.train.log_every))
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
    training = _Training(trainer, commands, pacer)
    while not commands.ended.is_set():
        yield from training.train()
        commands.held()
        yield RunEnded(trainer.step >= trainer.total_steps, trainer.step, trainer.flush_record())
        # Ended, kept in memory: saves are served, and Continue goes on from here.
        if not (yield from training.wait_for_continue()):
            return
        yield RunResumed(trainer.step)


class _Next(enum.Enum):
    """What the job does after serving the commands that came between two snapshots."""

    TRAIN = "train"
    STEP = "step"  # one step, then pause
    STOP = "stop"


class _Training:
    """The run between its snapshots: the one place that pauses, steps, stops and paces it."""

    def __init__(self, trainer: Trainer, commands: RunCommands, pacer: LogPacer):
        self.trainer = trainer
        self.commands = commands
        self.pacer = pacer
        self.limit = SpeedLimit()
        self.apart = StepInPhases(trainer)

    def train(self):
        """Train until the budget is spent or a Stop; yields snapshots and pause reports."""
        snapshots = self.trainer.run(include_weights=True)
        paused = False
        try:
            for snapshot in snapshots:
                yield snapshot
                if snapshot.finished:
                    return
                after = yield from self._between_snapshots(snapshot, paused)
                if after is _Next.STOP:
                    return
                paused = after is _Next.STEP
                if paused:  # the next snapshot comes after exactly one step
                    self.trainer.set_log_every(1)
        finally:
            snapshots.close()

    def _between_snapshots(self, snapshot: TrainingSnapshot, paused: bool):
        """Serve the commands that came meanwhile; paused, wait for the one that ends the pause;
        then hold the run to its speed limit and pace its snapshots."""
        if paused:
            yield RunPaused(self.trainer.step)
        self._set_speed_limit()
        while not self.commands.ended.is_set():
            hold_s = self.limit.wait_s(self.trainer.step, time.perf_counter())
            request = self.commands.next_request(WAIT_S if paused else min(hold_s, WAIT_S))
            if request is None:
                if paused or hold_s > WAIT_S or self._set_speed_limit():
                    continue
                if not self.limit.steps_per_second:
                    self._repace(snapshot)
                return _Next.TRAIN
            if isinstance(request, TakePhase):
                if paused:  # phases only while held: the controller asks for them after a pause
                    yield from self.apart.take(request)
                continue
            yield from self.apart.put_aside()
            if request is _Command.STOP:
                return _Next.STOP
            if request is _Command.STEP and paused:
                return _Next.STEP
            if request is _Command.PAUSE and not paused:
                paused = True
                yield RunPaused(self.trainer.step)
            elif request is _Command.RESUME and paused:
                paused = False
                yield RunResumed(self.trainer.step)
            else:
                yield from self._serve(request)
        return _Next.STOP

    def _set_speed_limit(self) -> bool:
        """Take up a new speed limit, with snapshots spaced for it; True when it changed."""
        if not self.limit.set(self.commands.steps_per_second):
            return False
        if log_every := self.limit.log_every(self.pacer.target_interval_s):
            self.trainer.set_log_every(log_every)
        return True

    def _repace(self, snapshot: TrainingSnapshot) -> None:
        """Keep snapshots coming about ten times a second, whatever the model's speed."""
        steps_per_second = snapshot.images_per_s / self.trainer.config.train.batch_size
        log_every = self.pacer.next_log_every(self.trainer.log_every, steps_per_second)
        if log_every is not None:
            self.trainer.set_log_every(log_every)

    def wait_for_continue(self):
        """Serve saves and edits until Continue (True) or the job's end (False)."""
        while not self.commands.ended.is_set():
            request = self.commands.next_request(WAIT_S)
            if isinstance(request, TakePhase):
                yield from self.apart.take(request)
                continue
            if request is not None:
                yield from self.apart.put_aside()
            if request is _Command.CONTINUE and self.trainer.step < self.trainer.total_steps:
                return True
            yield from self._serve(request)
        return False

    def _serve(self, request):
        """A save or an edit; the run's other commands mean nothing where this is called."""
        if isinstance(request, _Save):
            try:
                save_trainer(request.path, self.trainer, request.history)
            except VaeStudioError as error:  # it names the file
                yield SaveFailed(str(error))
            else:
                yield CheckpointSaved(str(request.path))
        elif isinstance(request, _Edit):
            request.edit(self.trainer)
