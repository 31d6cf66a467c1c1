"""The training session: one run at a time on a worker thread, steered from the GUI thread.

Threading: the worker thread loads data, builds the `Trainer` and drives its generator; it
talks to the GUI thread only through queued signals carrying frozen snapshots. Commands go to
the trainer's thread-safe methods. Pausing and saving happen at snapshot boundaries, where the
trainer's state is consistent: a paused run is exactly the state of its last snapshot, so a
checkpoint saved while paused resumes bit for bit.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import torch
from PySide6.QtCore import QObject, Signal, Slot

from app.pacing import LogPacer
from vae_core.checkpoint import Checkpoint, save_checkpoint, save_trainer
from vae_core.config import DataConfig, RunConfig
from vae_core.data import DataSplit, load_data
from vae_core.errors import VaeStudioError
from vae_core.training.trainer import Trainer, TrainingDiverged, TrainingSnapshot

# Torch's default thread count, read at import, for every thread of the window: training,
# loading, evaluating and the GUI thread's decodes. Each sets it for itself (`use_torch_threads`),
# so that a count another thread sets (a script, a test) cannot change a run's rounding. Giving
# the GUI thread one thread instead was measured (bench_window.py's runs, 6 rounds interleaved on
# 2 cores): window/headless 0.90 with one against 0.94 with two, within the noise.
TRAINING_THREADS = torch.get_num_threads()
OUT_OF_MEMORY_MESSAGE = "training ran out of memory: try a smaller batch size or a smaller model"
# Training examples whose encoder outputs reset codebook vectors are drawn from.
RESEED_EXAMPLES = 1024


class RunState(enum.Enum):
    IDLE = "idle"
    STARTING = "starting"  # loading data and building the model
    RUNNING = "running"
    PAUSING = "pausing"  # pauses at the next snapshot
    PAUSED = "paused"
    STEPPING = "stepping"  # runs one logging interval, then pauses
    STOPPING = "stopping"


ACTIVE_STATES = frozenset(RunState) - {RunState.IDLE}


def use_torch_threads(count: int) -> None:
    """Give the calling thread `count` torch threads for good. A thread's count is set up at its
    first torch call from the count set last anywhere in the process, undoing what the thread set
    before: the `get` makes that first call happen here."""
    torch.get_num_threads()
    torch.set_num_threads(count)


def reseed_codes(codes: Sequence[int], trainer: Trainer) -> None:
    """Move the training model's codebook vectors `codes` onto encoder outputs of random
    training examples; for `Trainer.call_between_steps`, on the training thread."""
    generator = torch.Generator(trainer.device).manual_seed(trainer.step)
    count = min(RESEED_EXAMPLES, len(trainer.data))
    indices = torch.randperm(len(trainer.data), generator=generator, device=trainer.device)[:count]
    images, _ = trainer.data.batch(indices)
    with torch.no_grad():
        encoded = trainer.model.encode(images)
    trainer.model.quantizer.reseed(codes, encoded, generator)


class DataCache:
    """Data splits by data config, loaded on a background thread and kept for the next run.

    `progress(done, total)` hears downloads, on the loading thread, once per percent.
    """

    def __init__(self, progress: Callable[[int, int], None] | None = None, capacity: int = 3):
        self._progress = progress
        self._last_percent = -1
        self._capacity = capacity
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="vae-studio-data", initializer=use_torch_threads, initargs=(TRAINING_THREADS,)
        )
        self._futures: OrderedDict[str, Future] = OrderedDict()
        self._lock = threading.Lock()

    def request(self, config: DataConfig) -> Future:
        """A future of the split; loads it unless loaded or loading (a failed load is retried)."""
        key = json.dumps(dataclasses.asdict(config), sort_keys=True)
        with self._lock:
            future = self._futures.get(key)
            if future is None or (future.done() and future.exception() is not None):
                future = self._executor.submit(load_data, dataclasses.replace(config), self._report)
                self._futures[key] = future
            self._futures.move_to_end(key)
            while len(self._futures) > self._capacity:
                self._futures.popitem(last=False)
        return future

    def _report(self, done: int, total: int) -> None:
        percent = 100 * done // total if total else -1
        if self._progress is not None and percent != self._last_percent:
            self._last_percent = percent
            self._progress(done, total)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclasses.dataclass
class _Run:
    """One run's shared flags; the worker reads them at snapshot boundaries."""

    number: int
    config: RunConfig
    checkpoint: Checkpoint | None
    stop_requested: threading.Event = dataclasses.field(default_factory=threading.Event)
    pause_requested: threading.Event = dataclasses.field(default_factory=threading.Event)
    stepping: threading.Event = dataclasses.field(default_factory=threading.Event)
    save_requests: list[Path] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    trainer: Trainer | None = None
    thread: threading.Thread | None = None


class TrainingSession(QObject):
    """Owns the run; every public method and signal belongs to the GUI thread."""

    stateChanged = Signal(object)  # RunState
    runStarted = Signal(object, object)  # Trainer, DataSplit
    snapshotReady = Signal(object)  # TrainingSnapshot
    runEnded = Signal(str)  # "finished", "stopped" or "failed"
    errorOccurred = Signal(str)  # one line for the user
    checkpointSaved = Signal(str)
    dataProgress = Signal(int, int)  # bytes downloaded and expected (0 when unknown)

    # From the worker thread; queued to the GUI thread, tagged with the run's number.
    _workerStarted = Signal(int, object, object)
    _workerSnapshot = Signal(int, object)
    _workerPaused = Signal(int)
    _workerSaved = Signal(int, str)
    _workerFailed = Signal(int, str, bool)  # the message, and whether the loss diverged
    _workerEnded = Signal(int, str)

    def __init__(self, parent: QObject | None = None, pacer: LogPacer | None = None):
        super().__init__(parent)
        self.data = DataCache(progress=self.dataProgress.emit)
        self.pacer = pacer or LogPacer()
        use_torch_threads(TRAINING_THREADS)  # the session lives on the GUI thread
        self.state = RunState.IDLE
        self.trainer: Trainer | None = None
        self.last_snapshot: TrainingSnapshot | None = None
        self.diverged = False
        self._run: _Run | None = None
        self._runs_started = 0
        self._beta: float | None = None
        self._learning_rate: float | None = None
        self._workerStarted.connect(self._on_started)
        self._workerSnapshot.connect(self._on_snapshot)
        self._workerPaused.connect(self._on_paused)
        self._workerSaved.connect(self._on_saved)
        self._workerFailed.connect(self._on_failed)
        self._workerEnded.connect(self._on_ended)

    # Commands from the GUI.
    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def start(self, config: RunConfig, checkpoint: Checkpoint | None = None) -> None:
        """Train `config` from scratch, or continue `checkpoint` (whose config it should be)."""
        if self.active:
            raise VaeStudioError("a run is already going: stop it first")
        self._runs_started += 1
        paced = dataclasses.replace(config.train, log_every=self.pacer.first_log_every)
        run = _Run(self._runs_started, dataclasses.replace(config, train=paced), checkpoint)
        run.thread = threading.Thread(target=self._work, args=(run,), name="vae-studio-training", daemon=True)
        self._run = run
        self.trainer = None
        self.last_snapshot = None
        self.diverged = False
        self._beta = self._learning_rate = None
        self._set_state(RunState.STARTING)
        run.thread.start()

    def pause(self) -> None:
        if self.state is RunState.RUNNING:
            self._run.pause_requested.set()
            self._set_state(RunState.PAUSING)

    def resume(self) -> None:
        if self.state is RunState.PAUSED:
            self.trainer.resume()
            self._set_state(RunState.RUNNING)

    def toggle_pause(self) -> None:
        if self.state is RunState.PAUSED:
            self.resume()
        else:
            self.pause()

    def step(self) -> None:
        """Run to the next snapshot and pause there: from a pause, one logging interval."""
        if self.state is RunState.RUNNING:
            self.pause()
        elif self.state is RunState.PAUSED:
            self._run.stepping.set()
            self._set_state(RunState.STEPPING)
            self.trainer.step_interval()

    def stop(self) -> None:
        if not self.active or self.state is RunState.STOPPING:
            return
        self._stop_run(self._run)
        self._set_state(RunState.STOPPING)

    def forget(self) -> None:
        """Drop the ended run's trainer (another model is being looked at)."""
        if not self.active:
            self.trainer = None
            self.last_snapshot = None
            self.diverged = False

    def set_beta(self, beta: float) -> None:
        self._beta = beta
        if self.trainer is not None and self.active:
            self.trainer.set_beta(beta)

    def set_learning_rate(self, learning_rate: float) -> None:
        self._learning_rate = learning_rate
        if self.trainer is not None and self.active:
            self.trainer.set_learning_rate(learning_rate)

    def reset_codes(self, codes: Sequence[int]) -> None:
        """VQ-VAE: reset these codebook vectors of the training model, between two steps."""
        if self.trainer is not None and self.active and hasattr(self.trainer.model, "quantizer"):
            self.trainer.call_between_steps(partial(reseed_codes, list(codes)))

    def save(self, path: str | Path) -> None:
        """Write a checkpoint: now when no run is going, else on the training thread at the next
        snapshot (or, paused, between edits), where the state is consistent; `checkpointSaved`
        announces it either way."""
        path = Path(path)
        if self.state in (RunState.RUNNING, RunState.PAUSING, RunState.STEPPING, RunState.STOPPING, RunState.PAUSED):
            with self._run.lock:
                self._run.save_requests.append(path)
            if self.state is RunState.PAUSED:
                # A paused worker still runs edits (a codebook reset); it saves between them.
                self.trainer.call_between_steps(partial(self._save_requested, self._run))
            return
        if self.trainer is None or self.state is RunState.STARTING:
            raise VaeStudioError("there is no trained model to save yet")
        if self.diverged:
            # The live weights are not finite; the last snapshot's are the last good ones.
            if self.last_snapshot is None:
                raise VaeStudioError("the run diverged before its first snapshot: there is nothing good to save")
            save_checkpoint(path, self.trainer.config, dict(self.last_snapshot.model_state))
        else:
            save_trainer(path, self.trainer)
        self.checkpointSaved.emit(str(path))

    def shutdown(self, timeout_s: float = 1.0) -> bool:
        """Stop any run and wait for its thread; True when it has ended within the timeout."""
        run = self._run
        self.data.shutdown()
        if run is None or run.thread is None:
            return True
        self._stop_run(run)
        run.thread.join(timeout_s)
        return not run.thread.is_alive()

    @staticmethod
    def _stop_run(run: _Run) -> None:
        # The worker publishes its trainer before it reads the flag, and this sets the flag
        # before it reads the trainer: one of the two sees the other, so the stop is never lost.
        run.stop_requested.set()
        if run.trainer is not None:
            run.trainer.stop()

    # The worker thread.
    def _work(self, run: _Run) -> None:
        use_torch_threads(TRAINING_THREADS)
        reason = "failed"
        try:
            split = self.data.request(run.config.data).result()
            if run.stop_requested.is_set():
                reason = "stopped"
                return
            trainer = Trainer(run.config, split)
            if run.checkpoint is not None:
                checkpoint = run.checkpoint
                try:
                    trainer.restore(checkpoint.model_state, checkpoint.optimizer_state, checkpoint.counters)
                except (RuntimeError, ValueError) as error:
                    raise VaeStudioError(f"cannot resume this checkpoint: {str(error).splitlines()[0]}") from None
                # The checkpoint brings back its own learning rate and beta; the controls' win.
                trainer.set_learning_rate(run.config.train.lr)
                trainer.set_beta(run.config.train.beta)
            run.trainer = trainer
            self._workerStarted.emit(run.number, trainer, split)
            if run.stop_requested.is_set():
                trainer.stop()
            self._train(run, trainer)
            reason = "finished" if trainer.step >= trainer.total_steps else "stopped"
        except CancelledError:
            reason = "stopped"  # the window closed while the data was loading
        except TrainingDiverged as error:
            self._workerFailed.emit(run.number, f"{error}; the last good model is kept", True)
        except (torch.cuda.OutOfMemoryError, MemoryError):
            self._workerFailed.emit(run.number, OUT_OF_MEMORY_MESSAGE, False)
        except VaeStudioError as error:
            self._workerFailed.emit(run.number, str(error), False)
        except Exception as error:  # a bug must not take the window down with it
            traceback.print_exc(file=sys.stderr)
            message = f"training stopped by an unexpected error: {type(error).__name__}: {error}"
            self._workerFailed.emit(run.number, message, False)
        finally:
            self._workerEnded.emit(run.number, reason)

    def _train(self, run: _Run, trainer: Trainer) -> None:
        generator = trainer.run(include_weights=True)
        try:
            while True:
                try:
                    snapshot = next(generator)
                except StopIteration:
                    break
                self._workerSnapshot.emit(run.number, snapshot)
                self._save_requested(run, trainer)
                if run.stepping.is_set():
                    run.stepping.clear()  # the trainer pauses itself after this snapshot
                    self._workerPaused.emit(run.number)
                elif run.pause_requested.is_set():
                    run.pause_requested.clear()
                    trainer.pause()
                    self._workerPaused.emit(run.number)
                elif not snapshot.finished:
                    self._repace(trainer, snapshot)
        finally:
            generator.close()
        self._save_requested(run, trainer)

    def _repace(self, trainer: Trainer, snapshot: TrainingSnapshot) -> None:
        """Keep snapshots coming about ten times a second, whatever the model's speed."""
        steps_per_second = snapshot.images_per_s / trainer.config.train.batch_size
        log_every = self.pacer.next_log_every(trainer.log_every, steps_per_second)
        if log_every is not None:
            trainer.set_log_every(log_every)

    def _save_requested(self, run: _Run, trainer: Trainer) -> None:
        with run.lock:
            paths, run.save_requests = run.save_requests, []
        for path in paths:
            try:
                save_trainer(path, trainer)
            except (VaeStudioError, OSError) as error:
                self._workerFailed.emit(run.number, f"cannot save {path}: {error}", False)
            else:
                self._workerSaved.emit(run.number, str(path))

    # Worker reports, on the GUI thread.
    def _current(self, number: int) -> bool:
        return self._run is not None and self._run.number == number

    @Slot(int, object, object)
    def _on_started(self, number: int, trainer: Trainer, split: DataSplit) -> None:
        if not self._current(number):
            return
        self.trainer = trainer
        if self._beta is not None:
            trainer.set_beta(self._beta)
        if self._learning_rate is not None:
            trainer.set_learning_rate(self._learning_rate)
        if self.state is RunState.STARTING:
            self._set_state(RunState.RUNNING)
        self.runStarted.emit(trainer, split)

    @Slot(int, object)
    def _on_snapshot(self, number: int, snapshot: TrainingSnapshot) -> None:
        if self._current(number):
            self.last_snapshot = snapshot
            self.snapshotReady.emit(snapshot)

    @Slot(int)
    def _on_paused(self, number: int) -> None:
        if self._current(number) and self.state in (RunState.PAUSING, RunState.STEPPING):
            self._set_state(RunState.PAUSED)

    @Slot(int, str)
    def _on_saved(self, number: int, path: str) -> None:
        if self._current(number):
            self.checkpointSaved.emit(path)

    @Slot(int, str, bool)
    def _on_failed(self, number: int, message: str, diverged: bool) -> None:
        if self._current(number):
            self.diverged = self.diverged or diverged
            self.errorOccurred.emit(message)

    @Slot(int, str)
    def _on_ended(self, number: int, reason: str) -> None:
        if not self._current(number):
            return
        self._set_state(RunState.IDLE)
        self.runEnded.emit(reason)

    def _set_state(self, state: RunState) -> None:
        if state is not self.state:
            self.state = state
            self.stateChanged.emit(state)

