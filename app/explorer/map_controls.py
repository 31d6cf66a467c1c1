"""The row of controls above the latent map: how the plane is chosen, the decoder's class and the
layer boxes. It draws what the explorer state says (`show_*`) and tells what the user chose
(its signals; `plane_choice` and `layer_ticks` read the choice for the state)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from app.naming import named
from app.state import (
    ANCHOR_SELECTED,
    ANCHOR_ZERO,
    PLANE_DIMENSIONS,
    PLANE_PRINCIPAL,
    PLANE_TSNE,
    LayerTicks,
    PlaneChoice,
)


class MapControls(QWidget):
    planeChosen = Signal()  # read it with plane_choice()
    classChosen = Signal(int)
    layersTicked = Signal()  # read them with layer_ticks()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addWidget(self._build_plane_box())
        self._class_label = QLabel("Class")
        self.class_combo = named(QComboBox(), "conditionCombo", "Decoder condition class")
        row.addWidget(self._class_label)
        row.addWidget(self.class_combo)
        row.addStretch(1)
        self.tiles_check = named(QCheckBox("Tiles"), "tilesCheckBox", "Show decoded tiles")
        self.points_check = named(QCheckBox("Test set"), "pointsCheckBox", "Show encoded test set")
        self.prior_check = named(QCheckBox("Prior"), "priorCheckBox", "Show prior density contours")
        for check in (self.tiles_check, self.points_check, self.prior_check):
            check.setChecked(True)
            check.toggled.connect(self.layersTicked)
            row.addWidget(check)
        for changed in (
            self.plane_combo.currentIndexChanged,
            self.x_dim_spin.valueChanged,
            self.y_dim_spin.valueChanged,
            self.anchor_combo.currentIndexChanged,
        ):
            changed.connect(self._plane_controls_changed)
        self.class_combo.currentIndexChanged.connect(self._class_changed)

    def _build_plane_box(self) -> QWidget:
        self._plane_box = QWidget(self)
        plane_row = QHBoxLayout(self._plane_box)
        plane_row.setContentsMargins(0, 0, 0, 0)
        self.plane_combo = named(QComboBox(), "planeCombo", "Map plane")
        self.x_dim_spin = named(QSpinBox(), "planeXSpinBox", "Horizontal latent dimension")
        self.y_dim_spin = named(QSpinBox(), "planeYSpinBox", "Vertical latent dimension")
        for spin in (self.x_dim_spin, self.y_dim_spin):
            spin.setPrefix("z")
        self.anchor_combo = named(QComboBox(), "anchorCombo", "Other dimensions fixed at")
        self.anchor_combo.addItems([ANCHOR_ZERO, ANCHOR_SELECTED])
        self.anchor_combo.setToolTip("The value of the dimensions not on the map")
        self._anchor_label = QLabel("others at")
        for widget in (
            QLabel("Plane"),
            self.plane_combo,
            self.x_dim_spin,
            self.y_dim_spin,
            self._anchor_label,
            self.anchor_combo,
        ):
            plane_row.addWidget(widget)
        return self._plane_box

    # What the user chose, for the state.
    def plane_choice(self) -> PlaneChoice:
        return PlaneChoice(
            self.plane_combo.currentText(),
            self.x_dim_spin.value(),
            self.y_dim_spin.value(),
            self.anchor_combo.currentText(),
        )

    def layer_ticks(self) -> LayerTicks:
        return LayerTicks(
            self.tiles_check.isChecked(),
            self.points_check.isChecked(),
            self.prior_check.isChecked(),
        )

    # What the state and the model say, announcing nothing.
    def set_latent_dim(self, dim: int, embeddable: bool = False) -> None:
        """Plane controls appear only where there is a choice of plane to make; t-SNE is offered
        for codes above two dimensions of `embeddable` data (images: its points decode to them)."""
        self._plane_box.setVisible(dim > 2)
        offered = [PLANE_DIMENSIONS, PLANE_PRINCIPAL] + [PLANE_TSNE] * (embeddable and dim > 2)
        self.plane_combo.blockSignals(True)
        self.plane_combo.clear()
        self.plane_combo.addItems(offered)
        self.plane_combo.blockSignals(False)
        for spin in (self.x_dim_spin, self.y_dim_spin):
            spin.blockSignals(True)
            spin.setRange(0, max(dim - 1, 0))
            spin.blockSignals(False)

    def show_plane_choice(self, choice: PlaneChoice) -> None:
        for widget, show in (
            (self.plane_combo, lambda: self.plane_combo.setCurrentText(choice.mode)),
            (self.x_dim_spin, lambda: self.x_dim_spin.setValue(choice.x)),
            (self.y_dim_spin, lambda: self.y_dim_spin.setValue(choice.y)),
            (self.anchor_combo, lambda: self.anchor_combo.setCurrentText(choice.anchor)),
        ):
            widget.blockSignals(True)
            show()
            widget.blockSignals(False)
        self._sync_plane_controls()

    def show_layer_ticks(self, ticks: LayerTicks) -> None:
        for check, ticked in (
            (self.tiles_check, ticks.tiles),
            (self.points_check, ticks.points),
            (self.prior_check, ticks.prior),
        ):
            check.blockSignals(True)
            check.setChecked(ticked)
            check.blockSignals(False)

    def show_class(self, label: int) -> None:
        self.class_combo.blockSignals(True)
        self.class_combo.setCurrentIndex(label)
        self.class_combo.blockSignals(False)

    def set_classes(self, class_names) -> None:
        """Offer a condition class (conditional models); an empty list hides the selector."""
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems(list(class_names))
        self.class_combo.blockSignals(False)
        self.class_combo.setVisible(bool(class_names))
        self._class_label.setVisible(bool(class_names))

    def set_layer_available(self, check: QCheckBox, available: bool, why_not: str) -> None:
        check.setEnabled(available)
        check.setToolTip("" if available else why_not)

    def _plane_controls_changed(self, *_) -> None:
        self._sync_plane_controls()
        self.planeChosen.emit()

    def _sync_plane_controls(self) -> None:
        by_dimensions = self.plane_combo.currentText() == PLANE_DIMENSIONS
        for widget in (self.x_dim_spin, self.y_dim_spin, self.anchor_combo, self._anchor_label):
            widget.setVisible(by_dimensions)

    def _class_changed(self, index: int) -> None:
        if index >= 0:
            self.classChosen.emit(index)
