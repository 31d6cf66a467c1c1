"""The widgets the settings panel is built from: a spin box for scale parameters, a log slider
paired with one, combos and spin boxes with names and tooltips, and a titled form."""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QRegularExpressionValidator, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QSlider,
    QSpinBox,
)

from app.choice_combo import ChoiceCombo
from app.naming import named
from vae_core.errors import VaeStudioError

# What the hidden sizes' box takes: 400, or 400,200 and so on.
HIDDEN_SIZES = re.compile(r"^\s*\d+(\s*,\s*\d+)*\s*$")


def hidden_sizes_edit(tooltip: str) -> QLineEdit:
    edit = named(QLineEdit(), "hiddenEdit", "Hidden sizes")
    edit.setValidator(QRegularExpressionValidator(HIDDEN_SIZES.pattern))
    edit.setToolTip(tooltip)
    return edit


def parse_hidden_sizes(text: str) -> tuple[int, ...]:
    """The hidden layers' sizes that `text` gives, or one line saying what is wrong with it."""
    if not HIDDEN_SIZES.match(text):
        raise VaeStudioError(f"hidden sizes must look like 400 or 400,200, got '{text}'")
    sizes = tuple(int(part) for part in text.split(","))
    if min(sizes) < 1:
        raise VaeStudioError(f"hidden sizes must be at least 1, got '{text}'")
    return sizes


class LogSpinBox(QDoubleSpinBox):
    """A spin box for scale parameters: shows 4 significant digits, and each arrow step
    multiplies the value by a fixed factor instead of adding to it."""

    def __init__(self, minimum: float, maximum: float, decades_per_step: float = 0.1, parent=None):
        super().__init__(parent)
        # Enough decimals that Qt's rounding never touches the smallest allowed value.
        self.setDecimals(12)
        self.setRange(minimum, maximum)
        self._factor = 10.0**decades_per_step

    def textFromValue(self, value: float) -> str:
        return f"{value:.4g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, position: int):
        try:
            value = float(text)
        except ValueError:
            return QValidator.State.Intermediate, text, position
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, position
        return QValidator.State.Intermediate, text, position

    def stepBy(self, steps: int) -> None:
        self.setValue(self.value() * self._factor**steps)


def combo(object_name: str, accessible_name: str, choices, tooltip: str) -> QComboBox:
    combo = named(QComboBox(), object_name, accessible_name)
    combo.addItems(list(choices))
    combo.setToolTip(tooltip)
    return combo


def select(combo: QComboBox, value: str) -> None:
    """Select `value`, adding it when the registry does not list it (a data folder, say)."""
    if isinstance(combo, ChoiceCombo):
        combo.select(value)
        return
    index = combo.findText(value)
    if index < 0:
        combo.addItem(value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


def spin(
    object_name: str, accessible_name: str, minimum: int, maximum: int, tooltip: str
) -> QSpinBox:
    spin = named(QSpinBox(), object_name, accessible_name)
    spin.setRange(minimum, maximum)
    spin.setToolTip(tooltip)
    spin.setGroupSeparatorShown(True)
    return spin


def group(title: str, rows) -> QGroupBox:
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    for label, field in rows:
        form.addRow(label, field)
    return box


# A log slider moves in hundredths of a decade.
_SLIDER_STEPS_PER_DECADE = 100


class LogSlider(QObject):
    """A slider on a log scale and a `LogSpinBox` showing one value (β): `changed` says it."""

    changed = Signal(float)

    def __init__(self, name: str, words: str, value_range: tuple[float, float], tip: str):
        super().__init__()
        self.slider = named(
            QSlider(Qt.Orientation.Horizontal), f"{name}Slider", f"{words} (log scale)"
        )
        low, high = (round(math.log10(v) * _SLIDER_STEPS_PER_DECADE) for v in value_range)
        self.slider.setRange(low, high)
        self.slider.setSingleStep(10)
        self.slider.setPageStep(_SLIDER_STEPS_PER_DECADE)
        self.spin = named(LogSpinBox(*value_range), f"{name}SpinBox", words)
        for widget in (self.slider, self.spin):
            widget.setToolTip(tip)
        self.row = QHBoxLayout()
        self.row.addWidget(self.slider, 1)
        self.row.addWidget(self.spin)
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(self._typed)

    def _slider_moved(self, position: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(10.0 ** (position / _SLIDER_STEPS_PER_DECADE))
        self.spin.blockSignals(False)
        self.changed.emit(self.spin.value())

    def _typed(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(math.log10(value) * _SLIDER_STEPS_PER_DECADE))
        self.slider.blockSignals(False)
        self.changed.emit(value)
