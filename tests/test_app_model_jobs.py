"""The controller that runs the views' model jobs, tested against fake views (MagicMock with a
spec, as ndv tests its controller) and no window: latest wins, one model copy, paced requests,
answers only for live views, and workers that hold no view."""

from __future__ import annotations

import gc
import threading
import types
from unittest.mock import MagicMock

import pytest
import torch
from PySide6.QtCore import QObject

from app.controllers import model_jobs
from app.controllers.model_jobs import Answer, JobKind, ModelJobs
from app.state import ModelOnShow, ShownModel
from vae_core.config import ModelConfig, RunConfig
from vae_core.models import build_model

WAIT_MS = 10_000


class FakeView:
    """What a view gives a line: somewhere to draw answers, errors and progress."""

    def draw(self, answer: Answer) -> None: ...

    def show_error(self, error: Exception) -> None: ...

    def show_progress(self, done: int, total: int) -> None: ...


def _on_show(latent_dim: int = 2) -> tuple[ModelOnShow, dict]:
    config = RunConfig(
        model=ModelConfig(
            input_shape=(1, 28, 28), num_classes=10, hidden=(8,), latent_dim=latent_dim
        )
    )
    model = build_model(config.model)
    return ModelOnShow(config, model.capabilities, "checkpoint", None), model.state_dict()


def _bias_sum(model, request) -> float:
    """A figure of the weights the job holds (the last layer's bias summed), plus the request."""
    return float(list(model.parameters())[-1].sum()) + request


def _gated(model, request):
    """Waits for the request's gate, then answers with its value."""
    gate, value = request
    assert gate.wait(10.0)
    return value


def _stepped(model, request):
    """Yields 1, 2, 3, each once its gate opens."""
    for step, gate in enumerate(request, start=1):
        assert gate.wait(10.0)
        yield step
    return None


def _failing(model, request):
    raise RuntimeError("no memory left")


def _reporting(model, request, control) -> str:
    for done in range(1, 4):
        control.progress(done, 3)
    return "done"


@pytest.fixture
def shown():
    state = ShownModel()
    state.show(*_on_show())
    return state


@pytest.fixture
def jobs(qtbot, shown):
    controller = ModelJobs(shown)
    yield controller
    assert controller.shutdown(10.0)


@pytest.fixture
def owner(qtbot):
    owner = QObject()
    yield owner


def _view():
    return MagicMock(spec=FakeView)


def _line(jobs, owner, view, work, **kind):
    return jobs.line(
        JobKind(work.__name__, work, **kind), owner, view.draw, view.show_error, view.show_progress
    )


def _drawn(view) -> list:
    return [call.args[0].value for call in view.draw.call_args_list]


def test_an_answer_is_computed_with_the_weights_on_show(qtbot, jobs, owner, shown):
    view = _view()
    line = _line(jobs, owner, view, _bias_sum)
    line.ask(10.0)
    qtbot.waitUntil(lambda: line.idle and view.draw.called, timeout=WAIT_MS)
    (answer,) = [call.args[0] for call in view.draw.call_args_list]
    last_bias = list(shown.weights.values())[-1]
    assert answer.value == pytest.approx(float(last_bias.sum()) + 10.0, abs=1e-5)
    assert answer.request == 10.0 and answer.generation == shown.generation

    # Newer weights: the next job holds them, and says which generation they are.
    weights = {name: value + 1.0 for name, value in shown.weights.items()}
    shown.set_weights(weights, step=5)
    line.ask(0.0)
    qtbot.waitUntil(lambda: view.draw.call_count == 2 and line.idle, timeout=WAIT_MS)
    answer = view.draw.call_args.args[0]
    assert answer.value == pytest.approx(float(last_bias.sum()) + last_bias.numel(), abs=1e-4)
    assert answer.generation == shown.generation
    view.show_error.assert_not_called()


def _recorded_jobs(monkeypatch) -> list:
    """The arguments of each job the controller starts (the jobs run)."""
    handed = []
    real = model_jobs.start_job

    def recording(function, *args, **kwargs):
        handed.append(args)
        return real(function, *args, **kwargs)

    monkeypatch.setattr(model_jobs, "start_job", recording)
    return handed


def test_latest_wins_the_overtaken_answer_is_dropped_and_a_replaced_request_never_runs(
    qtbot, jobs, owner, monkeypatch
):
    view = _view()
    line = _line(jobs, owner, view, _gated)
    gates = [threading.Event() for _ in range(3)]
    handed = _recorded_jobs(monkeypatch)
    line.ask((gates[0], "first"))
    line.ask((gates[1], "second"))  # waits behind the first, then is replaced
    line.ask((gates[2], "third"))
    assert not line.idle
    for gate in gates:
        gate.set()
    qtbot.waitUntil(lambda: line.idle, timeout=WAIT_MS)
    assert _drawn(view) == ["third"]
    assert [args[3].request[1] for args in handed] == ["first", "third"]


def test_a_paced_request_lets_the_answer_in_flight_be_drawn(qtbot, jobs, owner):
    view = _view()
    line = _line(jobs, owner, view, _gated, min_interval_s=0.0, share=1.0)
    first, second = threading.Event(), threading.Event()
    line.ask((first, "old weights"))
    line.ask((second, "new weights"), paced=True)
    first.set()
    second.set()
    qtbot.waitUntil(lambda: line.idle and view.draw.call_count == 2, timeout=WAIT_MS)
    assert _drawn(view) == ["old weights", "new weights"]


def test_a_paced_request_waits_while_work_is_held_and_an_unpaced_one_does_not(qtbot, jobs, owner):
    view = _view()
    jobs.hold_paced_work(lambda: 3600.0)  # the user drags the cursor, say
    line = _line(jobs, owner, view, _bias_sum)
    line.ask(1.0, paced=True)
    assert line.running is None and line.timer.isActive() and not line.idle
    line.ask(2.0)  # the user asked: at once
    qtbot.waitUntil(lambda: line.idle and view.draw.called, timeout=WAIT_MS)
    assert _drawn(view) == [pytest.approx(view.draw.call_args.args[0].value)]
    assert view.draw.call_args.args[0].request == 2.0


def test_a_generators_answers_arrive_in_order_and_stop_once_it_is_superseded(qtbot, jobs, owner):
    view = _view()
    line = _line(jobs, owner, view, _stepped)
    gates = [threading.Event() for _ in range(3)]
    line.ask(gates)
    gates[0].set()
    qtbot.waitUntil(lambda: view.draw.call_count == 1, timeout=WAIT_MS)
    line.cancel()
    gates[1].set()
    gates[2].set()
    qtbot.waitUntil(lambda: line.idle, timeout=WAIT_MS)
    assert _drawn(view) == [1]


def test_one_model_copy_serves_every_kind_until_another_model_is_shown(qtbot, jobs, owner, shown):
    views = [_view(), _view()]
    lines = [_line(jobs, owner, view, _bias_sum) for view in views]
    for line in lines:
        line.ask(0.0)
    qtbot.waitUntil(lambda: all(line.idle for line in lines), timeout=WAIT_MS)
    shown.set_weights(dict(shown.weights), step=1)
    lines[0].ask(0.0)
    qtbot.waitUntil(lambda: lines[0].idle, timeout=WAIT_MS)
    assert jobs.copies.builds == 1  # new weights are loaded into the same copy

    shown.show(*_on_show(latent_dim=3))
    lines[1].ask(0.0)
    qtbot.waitUntil(lambda: lines[1].idle, timeout=WAIT_MS)
    assert jobs.copies.builds == 2
    assert [view.draw.call_count for view in views] == [2, 2]


def test_an_answer_for_a_model_no_longer_on_show_is_dropped(qtbot, jobs, owner, shown):
    view = _view()
    line = _line(jobs, owner, view, _gated)
    gate = threading.Event()
    line.ask((gate, "for the old model"))
    shown.show(*_on_show(latent_dim=3))
    gate.set()
    qtbot.waitUntil(lambda: line.idle, timeout=WAIT_MS)
    view.draw.assert_not_called()


def test_a_failure_reaches_the_view_once_and_progress_as_it_comes(qtbot, jobs, owner):
    view = _view()
    line = _line(jobs, owner, view, _failing)
    line.ask(None)
    qtbot.waitUntil(lambda: line.idle and view.show_error.called, timeout=WAIT_MS)
    (error,) = [call.args[0] for call in view.show_error.call_args_list]
    assert str(error) == "no memory left"

    line = _line(jobs, owner, view, _reporting, controlled=True)
    line.ask(None)
    qtbot.waitUntil(lambda: line.idle and view.draw.called, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: view.show_progress.call_count == 3, timeout=WAIT_MS)
    assert [call.args for call in view.show_progress.call_args_list] == [(1, 3), (2, 3), (3, 3)]


def test_a_deleted_views_answer_never_reaches_it(qtbot, jobs, shown):
    owner = QObject()
    view = _view()
    line = _line(jobs, owner, view, _gated)
    gate = threading.Event()
    line.ask((gate, "late"))
    running = line.running
    owner.deleteLater()
    qtbot.waitUntil(lambda: not jobs._lines, timeout=WAIT_MS)
    gate.set()
    assert running.done.wait(10.0)
    qtbot.wait(0)
    view.draw.assert_not_called()


def _reachable(roots, limit: int = 20_000) -> list:
    """Objects reachable from `roots`, not through modules, classes or functions' globals (they
    reach everything)."""
    seen, queue, found = set(), list(roots), []
    while queue and len(seen) < limit:
        item = queue.pop()
        if id(item) in seen or isinstance(item, (types.ModuleType, type)):
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, types.FunctionType):
            queue.extend(cell.cell_contents for cell in item.__closure__ or ())
            queue.extend(item.__defaults__ or ())
        else:
            queue.extend(gc.get_referents(item))
    return found


def test_what_a_worker_holds_reaches_no_view_and_not_the_controller(
    qtbot, jobs, owner, monkeypatch
):
    view = _view()
    line = _line(jobs, owner, view, _gated)
    handed = _recorded_jobs(monkeypatch)
    gate = threading.Event()
    line.ask((gate, "value"))
    reached = _reachable(handed[0])
    gate.set()
    qtbot.waitUntil(lambda: line.idle, timeout=WAIT_MS)
    assert not any(
        item is owner or item is view or item is line or item is jobs for item in reached
    )
    assert any(isinstance(item, torch.Tensor) for item in reached)  # the weights do travel


def _written(request) -> str:
    """A file job (no model): waits for its gate, answers with its name."""
    gate, name = request
    assert gate.wait(10.0)
    return name


def test_a_queued_kind_runs_every_request_in_turn_with_no_model(qtbot, jobs, owner, shown):
    view = _view()
    line = _line(jobs, owner, view, _written, uses_model=False, queued=True)
    gates = [threading.Event() for _ in range(3)]
    for index, gate in enumerate(gates):
        line.ask((gate, f"file {index}"))
    shown.show(*_on_show(latent_dim=3))  # another model: a file job is still wanted
    for gate in gates:
        gate.set()
    qtbot.waitUntil(lambda: line.idle and view.draw.call_count == 3, timeout=WAIT_MS)
    assert _drawn(view) == ["file 0", "file 1", "file 2"]
    assert jobs.copies.builds == 0  # no model was needed


def test_a_kind_not_one_at_a_time_starts_before_the_superseded_job_ends(qtbot, jobs, owner):
    view = _view()
    line = _line(jobs, owner, view, _written, uses_model=False, one_at_a_time=False)
    slow, quick = threading.Event(), threading.Event()
    line.ask((slow, "a source left meanwhile"))
    superseded = line.running
    line.ask((quick, "the source chosen now"))
    assert line.running is not superseded and line.running.request[1] == "the source chosen now"
    quick.set()
    qtbot.waitUntil(lambda: view.draw.called, timeout=WAIT_MS)
    slow.set()
    assert superseded.done.wait(10.0)
    qtbot.waitUntil(lambda: line.idle, timeout=WAIT_MS)
    assert _drawn(view) == ["the source chosen now"]
