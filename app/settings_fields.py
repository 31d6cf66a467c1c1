"""The settings panel's fields by name, read and written as values: what the undo stack of
settings keeps and puts back. Writing a field goes through the widget's own setter, so that it
has every effect the user's change has (β reaches a run at once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from app.choice_combo import ChoiceCombo
from app.control_widgets import select
from app.controls import ControlPanel
from app.settings import data_source
from vae_core.config import DataConfig


@dataclass(frozen=True)
class Field:
    label: str  # as the panel names it
    read: Callable[[], object]
    write: Callable[[object], None]
    widget: QWidget  # the one the user types in or drags (its focus or drag makes one change)


def _widget_field(label: str, widget: QWidget) -> Field:
    if isinstance(widget, ChoiceCombo):
        return Field(label, widget.name, widget.select, widget)
    if isinstance(widget, QComboBox):
        return Field(label, widget.currentText, lambda text: select(widget, text), widget)
    if isinstance(widget, QLineEdit):
        return Field(label, widget.text, widget.setText, widget)
    if isinstance(widget, QCheckBox):
        return Field(label, widget.isChecked, widget.setChecked, widget)
    return Field(label, widget.value, widget.setValue, widget)  # spin boxes


def panel_fields(panel: ControlPanel) -> dict[str, Field]:
    """Every setting of the panel, in the order a change is put back: the data set first (it
    suggests a likelihood and networks, which come after it), the preset's name last."""

    def source() -> dict:
        return data_source(panel.data_config())

    fields = {
        # Written first: the rest of the panel reads it (the budget in steps, say).
        "base": Field("Settings", lambda: panel.base, panel.set_base, panel),
        "dataset": Field("Data set", source, _choose_source(panel), panel.dataset_combo),
    }
    widgets = {
        "family": ("Family", panel.model_combo),
        "prior": ("Prior", panel.prior_combo),
        "components": ("Components", panel.components_spin),
        "likelihood": ("Likelihood", panel.likelihood_combo),
        "arch": ("Architecture", panel.arch_combo),
        "latent_dim": ("Latent dim", panel.latent_dim_spin),
        "hidden": ("Hidden", panel.hidden_edit),
        "codebook_size": ("Codebook size", panel.codebook_spin),
        "beta_schedule": ("Schedule", panel.schedule_combo),
        "lr": ("Learning rate", panel.lr_spin),
        "lr_schedule": ("LR schedule", panel.lr_schedule_combo),
        "batch_size": ("Batch size", panel.batch_spin),
        "epochs": ("Epochs", panel.epochs_spin),
        "until_stopped": ("Until stopped", panel.until_stopped_check),
        "seed": ("Seed", panel.seed_spin),
        "device": ("Device", panel.device_combo),
        "preset": ("Preset", panel.preset_combo),
    }
    fields.update({name: _widget_field(*pair) for name, pair in widgets.items()})
    fields["beta"] = Field("β", lambda: panel.beta, panel.set_beta, panel.beta_spin)
    return fields


def _choose_source(panel: ControlPanel) -> Callable[[object], None]:
    def choose(source) -> None:
        panel.choose_data(DataConfig(**source))

    return choose


def change_signals(panel: ControlPanel) -> list:
    """The signals that say a field may have changed (the user's or a program's change)."""
    signals = [
        panel.applied,
        panel.dataChanged,
        panel.betaChanged,
        panel.dataset_combo.currentTextChanged,
    ]
    for widget in (
        field.widget for field in panel_fields(panel).values() if field.widget is not panel
    ):
        if isinstance(widget, QComboBox):
            signals.append(widget.currentIndexChanged)
        elif isinstance(widget, QLineEdit):
            signals.append(widget.textChanged)
        elif isinstance(widget, QCheckBox):
            signals.append(widget.toggled)
        elif widget is not panel.beta_spin:  # β's slider and box: betaChanged
            signals.append(widget.valueChanged)
    return signals
