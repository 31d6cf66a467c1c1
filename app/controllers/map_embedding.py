"""The map's t-SNE plane: the encoded test set placed by openTSNE on a worker (`ModelJobs`), the
hovered point's code decoded, and a line over the map that says what the plane can show.

t-SNE places each code by its neighbours and has no inverse: no point of its map between the
examples is a code, so the tiles, the cursor and the prior's contours (which decode or score the
points of a plane of codes) are hidden, and come back with the planes that have one. A request
is superseded when the model or its examples change (another model on show) or the plane is
left; newer codes from a training run redo the map at the kind's pace, the last map staying on
show meanwhile; and an answer computed from an earlier model's codes is never drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from app.controllers.job_kinds import MAP_EMBEDDING
from app.controllers.model_jobs import Answer
from app.naming import named
from app.state import EmbeddedCodes
from vae_core.latent_embedding import EmbeddingRequest

if TYPE_CHECKING:
    from app.controllers.explorer import LatentExplorer

NO_INVERSE = (
    "t-SNE places each test image by its code's neighbours and has no inverse map: no other point "
    "of it is a code, so it has no tiles, cursor, prior contours or theory layers. Hover a point to "
    "see its code decoded; the tiles and the cursor work in Two dimensions and Principal components."
)


class MapEmbedding(QObject):
    """Keeps `ExplorerState.embedding` up to date while the map's plane is t-SNE, and draws what
    that plane can show: `note` (the line), the decodable layers hidden, the hovered code decoded."""

    def __init__(self, explorer: LatentExplorer):
        """A part of `explorer`'s controller: its state, jobs, map, side panel and decodes."""
        super().__init__(explorer)
        self.shown = shown = explorer.shown
        self.state = shown.explorer
        self.map, self.side, self.decoder = explorer.map, explorer.side, explorer.decoder
        self._show_input = explorer.selection.show_hovered  # the example's own image
        self._on_error_message = explorer.errorOccurred.emit
        self._first_generation = shown.generation  # the model on show came with these weights
        self._placing = False  # whether the map shows the t-SNE plane
        self.note = named(QLabel(), "planeNoteLabel", "What the map's plane can show")
        self.note.setWordWrap(True)
        self.note.hide()
        self.map.add_control_row(self.note)
        self._line = explorer.jobs.line(
            MAP_EMBEDDING, self, self._placed, self._failed, self._progressed
        )
        shown.model_changed.connect(self._on_model_changed)
        self.state.events.plane_choice.connect(self._on_model_plane_choice)
        self.state.events.encoded.connect(self._on_model_encoded)

    # What the state says.
    def _on_model_changed(self) -> None:
        """Another model: its examples and codes are other ones, and its plane is not t-SNE."""
        self._first_generation = self.shown.generation
        self._line.cancel()
        if self._placing:
            self._leave()

    def _on_model_plane_choice(self) -> None:
        if not self.state.plane_decodes:
            self._enter()
        elif self._placing:
            self._leave()

    def _on_model_encoded(self) -> None:
        if not self.state.plane_decodes:
            self.request(paced=self.state.embedding is not None)

    def _enter(self) -> None:
        self._placing = True
        self.map.set_plane_decodes(False, "t-SNE has no inverse map: none of its points is a code")
        self.side.show_cursor(None, None)
        self.side.cursor_label.setText("Hover a point of the t-SNE map to see its code decoded")
        self.note.show()
        self.request()
        if self.state.embedding is not None:
            self.map.reset_view()

    def _leave(self) -> None:
        """Back on a plane of codes (the explorer redraws the cursor's decode): the view fits it."""
        self._line.cancel()
        self._placing = False
        self.note.hide()
        self.map.set_plane_decodes(True)
        self.map.reset_view()

    # Asking for the map, and its answers.
    def request(self, paced: bool = False) -> None:
        """Place the newest codes; `paced`, a map already on show waits for the kind's pace."""
        encoded, embedding = self.state.encoded, self.state.embedding
        if encoded is None:
            self._line.cancel()
            waiting = self.state.examples is not None
            self._say("Waiting for the test set's codes…" if waiting else "No test set to place.")
        elif embedding is None or embedding.generation != encoded.generation:
            self._line.ask(EmbeddingRequest(encoded.codes, encoded.generation), paced=paced)
            if embedding is None:
                self._say(f"Computing t-SNE of {len(encoded.codes):,} codes…")
        else:
            self._say("")

    def _progressed(self, done: int, total: int) -> None:
        if self.state.embedding is None:
            codes = len(self.state.encoded.codes)
            self._say(f"Computing t-SNE of {codes:,} codes… {100 * done // total}%")

    def _placed(self, answer: Answer) -> None:
        request: EmbeddingRequest = answer.request
        # Belt and braces: the line was cancelled when the model changed.
        if self.state.plane_decodes or request.generation < self._first_generation:
            return
        first = self.state.embedding is None
        self.state.embedding = EmbeddedCodes(answer.value, request.generation)
        self._say("")
        if first:
            self.map.reset_view()

    def _failed(self, error: Exception) -> None:
        self._say(f"No t-SNE map: {error}")
        self._on_error_message(f"the t-SNE map could not be computed: {error}")

    def _say(self, status: str) -> None:
        self.note.setText(f"{status}\n{NO_INVERSE}" if status else NO_INVERSE)

    # What the user does on the map.
    def show_hovered(self, index: int) -> None:
        """The hovered point: on t-SNE, its code decoded (beside it and in the side panel) with its
        label; on a plane of codes, the example's own image."""
        if self.state.plane_decodes:
            self._show_input(index)
            return
        encoded, examples = self.state.encoded, self.state.examples
        if index < 0 or encoded is None or self.decoder.model is None:
            self.map.show_preview(None)
            return
        code, label = encoded.codes[index], int(examples.labels[index])
        image = self.decoder.decode(code[None], label)[0]
        self.map.show_preview(image, index)
        self.side.show_cursor(image, code)
        self.side.cursor_label.setText(
            f"test image {index}, label {examples.class_names[label]}: its code decoded"
        )
