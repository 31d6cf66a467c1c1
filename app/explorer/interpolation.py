"""Interpolation between two picks: N decoded frames, linear or spherical, played and exported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.controllers.job_kinds import FILE_WRITE, Call
from app.controllers.model_jobs import Answer, ModelJobs
from app.explorer.decode_service import DecodeService
from app.explorer.gif import write_gif
from app.explorer.image_widgets import ImageGrid, ImageTile
from app.explorer.lazy_page import LazyPage
from app.explorer.side_panel import format_code
from app.export_files import write_png
from app.state import ShownModel
from vae_core.errors import VaeStudioError
from vae_core.latent import INTERPOLATIONS, interpolate, mosaic

# Exported images are scaled up by whole pixels so a 28x28 frame is not a speck.
EXPORT_SCALE = 4
FRAME_MS = 120


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


class InterpolationPage(LazyPage):
    """Pick a start and an end (the cursor or the selected image), see the frames between them."""

    exported = Signal(str)  # a file's path, once it is written

    def __init__(
        self,
        shown: ShownModel,
        decoder: DecodeService,
        jobs: ModelJobs,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("interpolationPage")
        self.setAccessibleName("Interpolation")
        self.shown = shown
        self.decoder = decoder
        self._files = jobs.line(FILE_WRITE, self, self._exported, self._export_failed)
        self.codes: np.ndarray | None = None
        self.frames: np.ndarray | None = None
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._next_frame)
        self._build()
        shown.model_changed.connect(self._show_ends)
        events = shown.explorer.events
        events.interpolation_ends.connect(self._show_ends)
        events.decoded_generation.connect(self.request_refresh)
        events.label.connect(self.request_refresh)

    @property
    def ends(self) -> dict[str, np.ndarray | None]:
        return self.shown.explorer.interpolation_ends

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_end_picks())
        layout.addLayout(self._build_options())
        layout.addLayout(self._build_strip(), 1)
        self._update_buttons()

    def _build_end_picks(self) -> QGridLayout:
        """A row for the start and one for the end: set it from the cursor or the selection."""
        picks = QGridLayout()
        self._end_labels = {}
        for row, end in enumerate(("start", "end")):
            picks.addWidget(QLabel(end.capitalize()), row, 0)
            for column, (source, text) in enumerate(
                (("cursor", "cursor"), ("selected", "selected image"))
            ):
                button = QPushButton(f"= {text}")
                button.setObjectName(f"{end}From{source.capitalize()}Button")
                button.setAccessibleName(f"Set the {end} to the {text}")
                button.clicked.connect(self._pick_slot(end, source))
                picks.addWidget(button, row, 1 + column)
            label = QLabel("-")
            label.setObjectName(f"{end}CodeLabel")
            picks.addWidget(label, row, 3)
            self._end_labels[end] = label
        picks.setColumnStretch(3, 1)
        return picks

    def _build_options(self) -> QHBoxLayout:
        """Frames, path, play and the exports."""
        options = QHBoxLayout()
        self.count_spin = QSpinBox()
        self.count_spin.setObjectName("interpolationFramesSpinBox")
        self.count_spin.setAccessibleName("Number of interpolation frames")
        self.count_spin.setRange(2, 64)
        self.count_spin.setValue(10)
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("interpolationMethodCombo")
        self.method_combo.setAccessibleName("Interpolation method")
        self.method_combo.addItems(list(INTERPOLATIONS))
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("interpolationPlayButton")
        self.play_button.setAccessibleName("Play the interpolation")
        self.play_button.setCheckable(True)
        self.png_button = QPushButton("Export PNG strip...")
        self.png_button.setObjectName("exportPngButton")
        self.gif_button = QPushButton("Export GIF...")
        self.gif_button.setObjectName("exportGifButton")
        for widget in (
            QLabel("Frames"),
            self.count_spin,
            QLabel("Path"),
            self.method_combo,
            self.play_button,
        ):
            options.addWidget(widget)
        options.addStretch(1)
        options.addWidget(self.png_button)
        options.addWidget(self.gif_button)
        self.count_spin.valueChanged.connect(self.request_refresh)
        self.method_combo.currentIndexChanged.connect(self.request_refresh)
        self.play_button.toggled.connect(self.set_playing)
        self.png_button.clicked.connect(self._ask_png)
        self.gif_button.clicked.connect(self._ask_gif)
        return options

    def _build_strip(self) -> QHBoxLayout:
        """The frames side by side, and the player that shows one at a time."""
        self.view = ImageGrid("interpolationView", minimum=40)
        self.view.setToolTip("The decoded frames from start to end; click one to show it")
        self.view.set_placeholder("Set a start and an end: the cursor or a selected image")
        self.view.cellClicked.connect(self.show_frame)
        self.player = ImageTile("interpolationPlayer", minimum=64)
        self.player.setMaximumWidth(160)
        strip = QHBoxLayout()
        strip.addWidget(self.view, 4)
        strip.addWidget(self.player, 1)
        return strip

    def _pick_slot(self, end: str, source: str):
        def pick() -> None:
            explorer = self.shown.explorer
            code = explorer.cursor_code() if source == "cursor" else explorer.selected_code()
            if code is not None:
                self.set_end(end, code)

        return pick

    def set_end(self, end: str, code: np.ndarray) -> None:
        """Set "start" or "end" to a latent code (D,)."""
        ends = {**self.ends, end: np.asarray(code, dtype=np.float64).copy()}
        self.shown.explorer.interpolation_ends = ends

    def _show_ends(self) -> None:
        """The chosen ends (none after another model came on show), and the frames between them."""
        if any(code is None for code in self.ends.values()):
            self.set_playing(False)
        for end, label in self._end_labels.items():
            code = self.ends[end]
            label.setText("-" if code is None else f"z = {format_code(code)}")
        self.request_refresh()

    def refresh(self) -> None:
        start, end = self.ends["start"], self.ends["end"]
        model = self.decoder.model
        if model is None or start is None or end is None or len(start) != model.latent_dim:
            self.codes = self.frames = None
            self.view.set_images(None, 1)
            self.player.set_image(None)
            self.shown.explorer.path = None
        else:
            self.codes = interpolate(
                start, end, self.count_spin.value(), self.method_combo.currentText()
            )
            self.frames = self.decoder.decode(self.codes)
            self.view.set_images(self.frames, len(self.frames))
            self.shown.explorer.path = self.codes
            self.show_frame(min(self._frame, len(self.frames) - 1))
        self._update_buttons()

    def show_frame(self, index: int) -> None:
        if self.frames is None:
            return
        self._frame = index
        self.player.set_image(self.frames[index])
        self.view.highlight(index)

    def set_playing(self, playing: bool) -> None:
        playing = playing and self.frames is not None
        if self.play_button.isChecked() != playing:
            self.play_button.setChecked(playing)
        self.play_button.setText("Stop" if playing else "Play")
        if playing:
            self._timer.start()
        else:
            self._timer.stop()

    def _next_frame(self) -> None:
        if self.frames is None:
            self.set_playing(False)
            return
        self.show_frame((self._frame + 1) % len(self.frames))

    def _update_buttons(self) -> None:
        ready = self.frames is not None
        for button in (self.play_button, self.png_button, self.gif_button):
            button.setEnabled(ready)

    # Export.
    grid_missing = "set a start and an end on the Interpolation page first"

    def grid_images(self) -> np.ndarray | None:
        """The frames as one row of a grid: (1, N, H, W[, C])."""
        return None if self.frames is None else self.frames[None]

    def _require_frames(self) -> np.ndarray:
        if self.frames is None:
            raise VaeStudioError("nothing to export: set a start and an end first")
        return self.frames

    def export_png(self, path: str | Path) -> None:
        """The frames side by side, scaled up, as one PNG (written on a worker: `exported`)."""
        frames = self._require_frames()
        strip = upscale(mosaic(frames, 1, len(frames), gap=1, fill=128), EXPORT_SCALE)
        self._files.ask(Call(write_png, (strip, Path(path))))

    def export_gif(self, path: str | Path) -> None:
        """The frames as an animated GIF that loops forever (written on a worker: `exported`)."""
        frames = [upscale(frame, EXPORT_SCALE) for frame in self._require_frames()]
        self._files.ask(Call(write_gif, (Path(path), frames, FRAME_MS)))

    def _exported(self, answer: Answer) -> None:
        self.exported.emit(answer.value)

    def _export_failed(self, error: Exception) -> None:
        QMessageBox.warning(self, "Export", str(error))

    def _ask_png(self) -> None:
        self._ask_and_export(
            "Export the frames as a PNG strip",
            "interpolation.png",
            "PNG images (*.png)",
            self.export_png,
        )

    def _ask_gif(self) -> None:
        self._ask_and_export(
            "Export the frames as an animated GIF",
            "interpolation.gif",
            "GIF images (*.gif)",
            self.export_gif,
        )

    def _ask_and_export(self, title: str, name: str, pattern: str, export) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, name, pattern)
        if not path:
            return
        try:
            export(path)
        except VaeStudioError as error:
            QMessageBox.warning(self, title, str(error))
