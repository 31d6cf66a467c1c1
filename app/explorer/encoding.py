"""The map's test examples encoded off the GUI thread (`ModelJobs`, paced while training streams
weights, never while the cursor is dragged).

Each pass is tagged with the generation of the weights it used; until it ends, the codes of the
last pass stay on the map, so the scatter never disappears while a run trains.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from app.controllers.job_kinds import MAP_ENCODING
from app.controllers.model_jobs import Answer, ModelJobs
from app.state import EncodedExamples, ShownModel


class EncodingController(QObject):
    """Keeps `ExplorerState.encoded` up to date with the weights on show."""

    def __init__(
        self,
        shown: ShownModel,
        jobs: ModelJobs,
        on_error: Callable[[str], None],
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.shown = shown
        self._on_error_message = on_error
        self._line = jobs.line(MAP_ENCODING, self, self._pass_done, self._pass_failed)
        shown.model_changed.connect(self._model_changed)
        shown.weights_changed.connect(self.request)

    def _model_changed(self) -> None:
        self.request(paced=False)

    def request(self, *_, paced: bool = True) -> None:
        """Encode the examples with the newest weights, as soon as the pace allows."""
        examples = self.shown.explorer.examples
        if self.shown.model is None or examples is None:
            self._line.cancel()
            return
        self._line.ask(examples, paced=paced)

    def _pass_done(self, answer: Answer) -> None:
        done = answer.value
        self.shown.explorer.encoded = EncodedExamples(
            done.codes, answer.generation, done.kl_per_dim
        )

    def _pass_failed(self, error: Exception) -> None:
        self._on_error_message(f"the test examples could not be encoded: {error}")

    def stop(self) -> None:
        self._line.cancel()
