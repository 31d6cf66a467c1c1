"""The one idiom for work off the GUI thread: superqt's workers (a function, or a generator whose
yields are progress) on Qt's thread pool, with results, yields and errors delivered as signals
on the GUI thread. Training, data loading, checkpoint files, evaluation and the explorer's
encoding all start here.

Each job sets its thread's torch thread count first: pool threads are reused, and a count set by
someone else (a script, a test, the last job) must not change a run's rounding.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import threading
from collections.abc import Callable
from functools import partial

import shiboken6
import torch
from PySide6.QtCore import QObject, QThreadPool
from superqt.utils import WorkerBase, create_worker

from vae_core.config import DataConfig
from vae_core.data import DataSplit, load_data
from vae_core.data.downloads import DownloadCancelled

# Torch's default thread count, read at import, for every job (the GUI thread's decodes keep
# torch's default too: one thread for them measured no faster, bench_window.py's runs, 6 rounds
# interleaved on 2 cores: window/headless 0.90 with one against 0.94 with two).
TRAINING_THREADS = torch.get_num_threads()
# Jobs mostly wait (a paused or stopped run waits for commands), so the pool must not be capped
# at the core count: a waiting run would hold back an evaluation.
POOL_THREADS = 8


def use_torch_threads(count: int = TRAINING_THREADS) -> None:
    """Give the calling thread `count` torch threads for good. A thread's count is set up at its
    first torch call from the count set last anywhere in the process, undoing what the thread set
    before: the `get` makes that first call happen here."""
    torch.get_num_threads()
    torch.set_num_threads(count)


class _JobFailed(Exception):
    """Carries a generator job's RuntimeError (torch raises many) past superqt's GeneratorWorker,
    which takes any RuntimeError for a deleted worker and drops it without a word."""


def _with_torch_threads(function: Callable) -> Callable:
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator_job(*args, **kwargs):
            use_torch_threads()
            try:
                return (yield from function(*args, **kwargs))
            except RuntimeError as error:
                raise _JobFailed() from error

        return generator_job

    @functools.wraps(function)
    def job(*args, **kwargs):
        use_torch_threads()
        return function(*args, **kwargs)

    return job


def start_job(
    function: Callable,
    *args,
    on_result: Callable | None = None,
    on_error: Callable[[Exception], None] | None = None,
    on_yield: Callable | None = None,
    on_finished: Callable[[], None] | None = None,
    context: QObject | None = None,
) -> WorkerBase:
    """Run `function(*args)` on the pool; its answers arrive as calls on the GUI thread.

    An exception reaches `on_error` (never the console: every job must say what it does with one).
    With a `context`, answers arriving after it was deleted (its window closed meanwhile) are
    dropped: the callbacks may be lambdas, which Qt does not disconnect with their object.
    """
    pool = QThreadPool.globalInstance()
    pool.setMaxThreadCount(max(pool.maxThreadCount(), POOL_THREADS))
    connect = {"errored": partial(_report_error, on_error or _ignore)}
    for name, slot in (("returned", on_result), ("yielded", on_yield), ("finished", on_finished)):
        if slot is not None:
            connect[name] = slot
    if context is not None:
        connect = {name: partial(_unless_deleted, context, slot) for name, slot in connect.items()}
    return create_worker(_with_torch_threads(function), *args, _connect=connect)


def _unless_deleted(context: QObject, slot: Callable, *args) -> None:
    if shiboken6.isValid(context):
        slot(*args)


def _report_error(on_error: Callable[[Exception], None], error: Exception) -> None:
    on_error(error.__cause__ if isinstance(error, _JobFailed) else error)


def _ignore(_error: Exception) -> None:
    pass


def wait_for_jobs(timeout_s: float) -> bool:
    """Wait for every job on the pool to end; True when they all did within the timeout."""
    return QThreadPool.globalInstance().waitForDone(int(timeout_s * 1000))


class DataCache:
    """Data splits by data config, each loaded once and kept for the next run (Qt-free; any
    thread). Callers asking for a split that is loading wait for that load; a failed load is
    tried again by the next caller. `progress(done, total)` hears downloads once per percent; a
    caller's own `progress` hears its load's downloads instead (and may cancel them).
    `cancel_downloads` stops the downloads heard by `progress` at their next block."""

    def __init__(self, progress: Callable[[int, int], None] | None = None, capacity: int = 3):
        self._progress = progress
        self._last_percent = -1
        self._capacity = capacity
        self._splits: dict[str, DataSplit] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    def get(
        self, config: DataConfig, progress: Callable[[int, int], None] | None = None
    ) -> DataSplit:
        key = json.dumps(dataclasses.asdict(config), sort_keys=True)
        with self._lock:
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                split = self._splits.get(key)
            if split is None:
                if progress is None:
                    self._cancel.clear()  # a cancel was for the downloads before this one
                split = load_data(dataclasses.replace(config), progress or self._report)
                with self._lock:
                    self._splits[key] = split
                    while len(self._splits) > self._capacity:
                        self._splits.pop(next(iter(self._splits)))
        return split

    def cancel_downloads(self) -> None:
        """Any thread: the download in flight stops, leaving no partial file."""
        self._cancel.set()

    def _report(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise DownloadCancelled(
                "download cancelled: files downloaded completely stay, the partial one is removed"
            )
        percent = 100 * done // total if total else -1
        if self._progress is not None and percent != self._last_percent:
            self._last_percent = percent
            self._progress(done, total)
