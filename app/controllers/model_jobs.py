"""The one runner of work computed from the model on show: views ask, this controller runs their
requests on workers (`app.workers.start_job`) and hands the answers back for them to draw. The
window's file reads and writes run here too, as kinds that need no model.

- A view asks on a `JobLine`, one per view and kind of request. Latest wins: a new request
  retires the one in flight, and an answer reaches the view only while the request it answers
  is not retired (request identity, the one mechanism that drops stale answers, as ndv's
  controller cancels its futures). A line runs one job at a time; what is asked meanwhile
  waits, the newest replacing the older (a queued kind's requests all wait their turn).
- Jobs compute with `WorkerModel`'s one copy of the model, holding the weights on show when the
  job starts (keyed by config and generation).
- A request asked `paced` (new weights streaming from a run, say) does not supersede the one in
  flight, whose answer is still worth drawing; it starts once the kind's `DutyCycle` allows.
- The controller outlives its jobs (the window owns it) and jobs hold no view: only the request,
  the weights and a ticket travel to the worker, and answers come back to the controller, which
  drops those whose view is gone.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from app.controllers.pacing import DutyCycle
from app.controllers.worker_model import WeightsSource, WorkerModel
from app.state import ModelOnShow, ShownModel
from app.workers import start_job, use_torch_threads


@dataclass(frozen=True)
class JobKind:
    """A kind of request: `work(model, request)` (with `controlled`, `work(model, request,
    control)`) computes its answer on a worker, or, as a generator, yields answers as they come
    (each reaches the view) and may return a last one."""

    name: str
    work: Callable[..., Any]
    controlled: bool = False  # the work takes a JobControl: progress, and whether to stop
    uses_model: bool = True  # False: `work(request)`, a file read or written, say
    queued: bool = False  # every request runs, in turn (files to write), none superseding
    # False: a request need not wait for the end of the job it superseded (a slow read)
    one_at_a_time: bool = True
    threads: int | None = 1  # torch threads for the job (the cores are training's); None: all
    min_interval_s: float = 0.0  # paced requests start at least this far apart,
    share: float = 1.0  # and take at most this share of the time


@dataclass(frozen=True)
class Answer:
    """What reaches a view: the request, the work's answer, the weights' generation it used."""

    request: Any
    value: Any
    generation: int


class JobControl:
    """What a job may use on its worker: whether it was superseded, and a progress report."""

    def __init__(self, stop: threading.Event, report: Callable[[int, int], None]):
        self._stop = stop
        self._report = report

    def stopped(self) -> bool:
        return self._stop.is_set()

    def progress(self, done: int, total: int) -> None:
        if not self._stop.is_set():
            self._report(done, total)


class _Ticket:
    """One request's identity: its answers are delivered until it is retired (`stop`)."""

    __slots__ = ("line_id", "request", "model", "stop", "done", "paced")

    def __init__(self, line_id: int, request, model: ModelOnShow | None, paced: bool):
        self.line_id = line_id
        self.request = request
        self.model = model
        self.paced = paced
        self.stop = threading.Event()
        self.done = threading.Event()


def _run(
    kind: JobKind, source: WeightsSource | None, copies: WorkerModel, ticket: _Ticket, control
):
    """The job, on a worker: yields the work's answers, returns (last answer, seconds)."""
    try:
        if ticket.stop.is_set():  # superseded before a thread was free for it
            return None, 0.0
        if kind.threads is not None:
            use_torch_threads(kind.threads)
        started = time.perf_counter()
        with copies.lease(source) if kind.uses_model else nullcontext() as model:
            arguments = (model, ticket.request) if kind.uses_model else (ticket.request,)
            answer = kind.work(*arguments, *((control,) if kind.controlled else ()))
            if inspect.isgenerator(answer):
                answer = yield from _until_stopped(answer, ticket.stop)
        return answer, time.perf_counter() - started
    finally:
        ticket.done.set()


def _until_stopped(answers, stop: threading.Event):
    """A generator's answers, up to the first one asked after its request was superseded."""
    try:
        while True:
            answer = next(answers)
            if stop.is_set():
                return None
            yield answer
    except StopIteration as end:
        return end.value
    finally:
        answers.close()


class JobLine(QObject):
    """One view's requests of one kind, latest winning (or, for a queued kind, each in turn).
    Only its controller makes one."""

    def __init__(
        self,
        jobs: ModelJobs,
        kind: JobKind,
        on_answer: Callable[[Answer], None],
        on_error: Callable[[Exception], None],
        on_progress: Callable[[int, int], None] | None,
    ):
        super().__init__(jobs)
        self.kind = kind
        self.number = next(jobs.line_numbers)
        self._jobs = jobs
        self.on_answer, self.on_error, self.on_progress = on_answer, on_error, on_progress
        self.current: _Ticket | None = None  # the request started last
        self.running: _Ticket | None = None  # the job under way, wanted or not
        self.waiting: deque[_Ticket] = deque()  # asked while a job was under way
        self.pace = DutyCycle(kind.min_interval_s, kind.share)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._start_waiting)

    @property
    def idle(self) -> bool:
        """Nothing under way or waiting: the view shows the answer to its newest request."""
        return self.running is None and not self.waiting

    def ask(self, request, paced: bool = False) -> None:
        """Compute `request` (with the weights on show, for a kind that uses the model).
        Unpaced, it supersedes what is in flight and starts as soon as the line is free; paced
        (the same question for newer weights), the answer in flight is still drawn and this one
        starts when the kind's pace allows. A queued kind's requests all run, in turn."""
        model = self._jobs.shown.model if self.kind.uses_model else None
        ticket = _Ticket(self.number, request, model, paced)
        if not self.kind.queued:
            if not paced:
                self._retire(self.current)
                self.pace.due_now()
            self._retire_waiting()
        self.waiting.append(ticket)
        if self._free():
            self._schedule()

    def cancel(self) -> None:
        """Nothing asked is wanted any more (the view is off, or has nothing to ask)."""
        self.timer.stop()
        self._retire(self.current)
        self._retire_waiting()

    def retire(self, unwanted: Callable[[_Ticket], bool]) -> None:
        """Retire the requests, under way or waiting, that are `unwanted`."""
        if self.current is not None and unwanted(self.current):
            self._retire(self.current)
        for ticket in [ticket for ticket in self.waiting if unwanted(ticket)]:
            ticket.stop.set()
            self.waiting.remove(ticket)

    def _retire(self, ticket: _Ticket | None) -> None:
        if ticket is not None:
            ticket.stop.set()

    def _retire_waiting(self) -> None:
        while self.waiting:
            self.waiting.popleft().stop.set()

    def _schedule(self) -> None:
        waiting = self.waiting[0]
        wait_s = self.pace.wait_s(time.perf_counter()) if waiting.paced else 0.0
        if waiting.paced:
            wait_s = max(wait_s, self._jobs.hold_s())
        if wait_s == 0.0:
            self.timer.stop()
            self._start_waiting()
        elif not self.timer.isActive():
            self.timer.start(int(wait_s * 1000))

    def _free(self) -> bool:
        """Whether a job may start: none under way, or (for a kind not one at a time) only one
        superseded."""
        running = self.running
        return running is None or (not self.kind.one_at_a_time and running.stop.is_set())

    def _start_waiting(self) -> None:
        if not self.waiting or not self._free():
            return
        ticket = self.waiting[0]
        if ticket.paced and self._jobs.hold_s() > 0:
            self._schedule()
            return
        self.waiting.popleft()
        source = self._jobs.source(ticket.model) if self.kind.uses_model else None
        if self.kind.uses_model and source is None:
            ticket.stop.set()
            return
        self.current = self.running = ticket
        self.pace.started(time.perf_counter())
        self._jobs.start(self, ticket, source)

    def finished(self, ticket: _Ticket, seconds: float | None) -> None:
        """The job of `ticket` ended (answered, failed or superseded): the next may start."""
        if ticket is self.running:
            self.running = None
        if seconds is not None:
            self.pace.spent(seconds)
        if self.waiting:
            self._schedule()


class ModelJobs(QObject):
    """Owns the lines, the worker-side model copy and the jobs' answers (GUI thread)."""

    _progressed = Signal(object, int, int)  # from a worker: (ticket, done, total)

    def __init__(self, shown: ShownModel, parent: QObject | None = None):
        super().__init__(parent)
        self.shown = shown
        self.copies = WorkerModel()
        self._lines: dict[int, tuple[JobLine, QObject]] = {}  # by line number
        self.line_numbers = itertools.count()
        self._hold_s: Callable[[], float] = lambda: 0.0
        self._progressed.connect(self._on_progress)
        shown.model_changed.connect(self._on_model_changed)

    def line(
        self,
        kind: JobKind,
        owner: QObject,
        on_answer: Callable[[Answer], None],
        on_error: Callable[[Exception], None],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> JobLine:
        """A line of requests of `kind` for the view `owner`: its answers go to `on_answer`, its
        failures to `on_error`, while `owner` lives."""
        line = JobLine(self, kind, on_answer, on_error, on_progress)
        self._lines[line.number] = (line, owner)
        owner.destroyed.connect(partial(self._forget, line.number))
        return line

    def _forget(self, line_id: int, *_) -> None:
        line, _owner = self._lines.pop(line_id, (None, None))
        if line is not None and shiboken6.isValid(line):
            line.cancel()
            line.deleteLater()

    def hold_paced_work(self, hold_s: Callable[[], float]) -> None:
        """Paced jobs wait `hold_s()` seconds before they start (while the user drags, say)."""
        self._hold_s = hold_s

    def hold_s(self) -> float:
        return self._hold_s()

    def source(self, model: ModelOnShow | None) -> WeightsSource | None:
        """The weights on show, when `model` is still the model on show."""
        shown = self.shown
        if model is None or model is not shown.model or shown.weights is None:
            return None
        return WeightsSource(model.config.model, shown.weights, shown.generation)

    def start(self, line: JobLine, ticket: _Ticket, source: WeightsSource | None) -> None:
        control = JobControl(ticket.stop, self._reporter(ticket))
        generation = -1 if source is None else source.generation
        start_job(
            _run,
            line.kind,
            source,
            self.copies,
            ticket,
            control,
            on_yield=lambda value: self._deliver(ticket, value, generation),
            on_result=lambda result: self._ended(ticket, generation, *result),
            on_error=lambda error: self._failed(ticket, error),
            context=self,
        )

    def _reporter(self, ticket: _Ticket) -> Callable[[int, int], None]:
        """A progress report for the worker, reaching this controller by a weak reference (the
        worker holds nothing of the window)."""
        jobs = weakref.ref(self)

        def report(done: int, total: int) -> None:
            owner = jobs()
            if owner is not None and shiboken6.isValid(owner):
                owner._progressed.emit(ticket, done, total)

        return report

    def _wanted(self, ticket: _Ticket) -> tuple[JobLine, QObject] | None:
        """The line and view of a request still wanted (not superseded, its view alive)."""
        entry = self._lines.get(ticket.line_id)
        if entry is None or ticket.stop.is_set() or not shiboken6.isValid(entry[1]):
            return None
        return entry

    def _deliver(self, ticket: _Ticket, value, generation: int) -> None:
        entry = self._wanted(ticket)
        if entry is not None and value is not None:
            entry[0].on_answer(Answer(ticket.request, value, generation))

    def _ended(self, ticket: _Ticket, generation: int, value, seconds: float) -> None:
        self._deliver(ticket, value, generation)
        self._finish(ticket, seconds)

    def _failed(self, ticket: _Ticket, error: Exception) -> None:
        entry = self._wanted(ticket)
        self._finish(ticket, None)
        if entry is not None:
            entry[0].on_error(error)

    def _finish(self, ticket: _Ticket, seconds: float | None) -> None:
        entry = self._lines.get(ticket.line_id)
        if entry is not None and shiboken6.isValid(entry[0]):
            entry[0].finished(ticket, seconds)

    def _on_progress(self, ticket: _Ticket, done: int, total: int) -> None:
        entry = self._wanted(ticket)
        if entry is not None and entry[0].on_progress is not None:
            entry[0].on_progress(done, total)

    def _on_model_changed(self) -> None:
        """Requests for another model than the one now on show are not wanted any more (a view
        that heard of the new model first may have asked for it already)."""
        self.copies.forget()
        shown = self.shown.model
        for line, _owner in self._lines.values():
            if line.kind.uses_model:
                line.retire(lambda ticket: ticket.model is not shown)

    def under_way(self) -> int:
        """How many jobs are still running on a worker."""
        return sum(
            line.running is not None and not line.running.done.is_set()
            for line, _owner in self._lines.values()
        )

    def shutdown(self, timeout_s: float) -> bool:
        """Supersede every request and wait for the jobs under way; whether they all ended."""
        running = []
        for line, _owner in self._lines.values():
            line.cancel()
            if line.running is not None:
                running.append(line.running)
        deadline = time.perf_counter() + timeout_s
        return all(ticket.done.wait(max(0.0, deadline - time.perf_counter())) for ticket in running)
