"""Latent traversals: per dimension, a row of decodes sweeping it from -3 to 3, rows ordered by KL.

Dimensions whose KL is near zero carry no information: their rows stay flat (the β-VAE figure).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.explorer.decode_service import DecodeService
from app.explorer.image_widgets import ImageGrid
from app.explorer.lazy_page import LazyPage
from app.state import ShownModel
from vae_core.latent import traversal_codes

ANCHORS = ("zero", "selected image", "cursor")
ROW_HEIGHT = 44


class TraversalsPage(LazyPage):
    def __init__(self, shown: ShownModel, decoder: DecodeService, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("traversalsPage")
        self.setAccessibleName("Traversals")
        self.shown = shown
        self.decoder = decoder
        self.order: list[int] = []  # latent dimensions, highest KL first
        self.values = np.zeros(0)
        self.codes: np.ndarray | None = None  # (rows, steps, D)
        self.images: np.ndarray | None = None  # (rows, steps, H, W[, C])
        self._rows: list[tuple[QLabel, ImageGrid]] = []
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_controls())
        layout.addWidget(self._build_table(), 1)
        self._connect_signals()

    def _build_controls(self) -> QHBoxLayout:
        """The row above the table: around which code, how many steps, how far, and a summary."""
        controls = QHBoxLayout()
        self.anchor_combo = QComboBox()
        self.anchor_combo.setObjectName("traversalAnchorCombo")
        self.anchor_combo.setAccessibleName("Traversal anchor")
        self.anchor_combo.addItems(ANCHORS)
        self.steps_spin = QSpinBox()
        self.steps_spin.setObjectName("traversalStepsSpinBox")
        self.steps_spin.setAccessibleName("Steps per traversal")
        self.steps_spin.setRange(3, 25)
        self.steps_spin.setValue(11)
        self.reach_spin = QDoubleSpinBox()
        self.reach_spin.setObjectName("traversalReachSpinBox")
        self.reach_spin.setAccessibleName("Traversal reach")
        self.reach_spin.setRange(0.5, 10.0)
        self.reach_spin.setSingleStep(0.5)
        self.reach_spin.setValue(3.0)
        self.reach_spin.setPrefix("±")
        for widget in (
            QLabel("Around"),
            self.anchor_combo,
            QLabel("Steps"),
            self.steps_spin,
            QLabel("Sweep"),
            self.reach_spin,
        ):
            controls.addWidget(widget)
        controls.addStretch(1)
        self.summary = QLabel()
        self.summary.setObjectName("traversalSummary")
        controls.addWidget(self.summary)
        self.anchor_combo.currentIndexChanged.connect(self.request_refresh)
        self.steps_spin.valueChanged.connect(self.request_refresh)
        self.reach_spin.valueChanged.connect(self.request_refresh)
        return controls

    def _build_table(self) -> QScrollArea:
        """The scrolled table with a row for each latent dimension."""
        self._table = QWidget()
        self._table_layout = QGridLayout(self._table)
        self._table_layout.setContentsMargins(2, 2, 2, 2)
        self._table_layout.setVerticalSpacing(2)
        self._table_layout.setColumnStretch(1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._table)
        return scroll

    def _connect_signals(self) -> None:
        self.shown.model_changed.connect(self.request_refresh)
        events = self.shown.explorer.events
        for changed in (events.decoded_generation, events.label, events.kl_per_dim):
            changed.connect(self.request_refresh)
        events.posterior.connect(self._on_model_selection)
        events.cursor.connect(self._on_model_cursor)
        events.encoded.connect(self._on_model_encoded)

    # The rows follow the selection or the cursor only when they are anchored there.
    def _on_model_selection(self) -> None:
        if self.anchor_combo.currentText() == "selected image":
            self.request_refresh()

    def _on_model_cursor(self) -> None:
        if self.anchor_combo.currentText() == "cursor":
            self.request_refresh()

    def _on_model_encoded(self) -> None:
        if self.shown.explorer.kl_per_dim is None:
            self.request_refresh()  # the rows are ordered by what the encoding measured

    def anchor(self) -> np.ndarray:
        explorer = self.shown.explorer
        source = self.anchor_combo.currentText()
        code = None
        if source == "selected image":
            code = explorer.selected_code()
        elif source == "cursor":
            code = explorer.cursor_code()
        return np.zeros(self.decoder.model.latent_dim) if code is None else code

    def refresh(self) -> None:
        model = self.decoder.model
        if model is None:
            self.codes = self.images = None
            self.order = []
            self._set_row_count(0)
            self.summary.setText("")
            return
        dim = model.latent_dim
        key_name, key = self._ordering()
        self.order = list(np.argsort(-key, kind="stable")) if key is not None else list(range(dim))
        reach = self.reach_spin.value()
        self.values = np.linspace(-reach, reach, self.steps_spin.value())
        self.codes = traversal_codes(self.anchor(), self.order, self.values)
        flat = self.decoder.decode(self.codes.reshape(-1, dim))
        self.images = flat.reshape(dim, len(self.values), *flat.shape[1:])
        self._set_row_count(dim)
        for row, dimension in enumerate(self.order):
            label, grid = self._rows[row]
            label.setText(
                f"z{dimension}" + ("" if key is None else f"\n{key_name} {key[dimension]:.2f}")
            )
            grid.set_images(self.images[row], len(self.values))
        if key is None:
            self.summary.setText(f"{dim} dimensions")
        elif key_name == "KL":
            active = int(np.sum(key > 0.01 * max(key.max(), 1e-12)))
            self.summary.setText(
                f"{dim} dimensions, total KL {key.sum():.2f} nats; rows ordered by KL"
            )
            self.summary.setToolTip(f"{active} dimensions carry at least 1% of the largest KL")
        else:
            self.summary.setText(
                f"{dim} code numbers; rows ordered by their variance over the test set"
            )

    grid_missing = "the traversals show once a model is on show"

    def grid_images(self) -> np.ndarray | None:
        """A row per latent dimension, highest KL first: (D, steps, H, W[, C])."""
        return self.images

    def _ordering(self) -> tuple[str, np.ndarray | None]:
        """What the rows are sorted by: the KL per dimension, or (no KL per number: VQ-VAE) the
        spread of each number over the test set's codes."""
        explorer, dim = self.shown.explorer, self.decoder.model.latent_dim
        encoded = explorer.encoded
        for kl in (explorer.kl_per_dim, None if encoded is None else encoded.kl_per_dim):
            if kl is not None and len(kl) == dim:
                return "KL", kl
        if encoded is not None:
            return "var", encoded.codes.var(0)
        return "", None

    def _set_row_count(self, count: int) -> None:
        while len(self._rows) < count:
            label = QLabel()
            label.setMinimumWidth(56)
            grid = ImageGrid(f"traversalRow{len(self._rows)}", minimum=24)
            grid.setMinimumHeight(ROW_HEIGHT)
            row = len(self._rows)
            self._table_layout.addWidget(label, row, 0)
            self._table_layout.addWidget(grid, row, 1)
            self._rows.append((label, grid))
        while len(self._rows) > count:
            for widget in self._rows.pop():
                # Off the page now; the object itself goes when the event loop next runs.
                widget.setParent(None)
                widget.deleteLater()
