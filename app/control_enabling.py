"""Which of the settings panel's controls apply: those fixed while a run goes are locked then (β
and the learning rate stay live), and those the chosen family or prior has no use for are
disabled, their tooltips saying why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from app import control_words as words
from app.choice_combo import ChoiceCombo, with_reason
from vae_core.models import MODEL_FAMILIES

if TYPE_CHECKING:
    from app.controls import ControlPanel

MIXTURE_PRIORS = ("mog", "vamp")


class WhatApplies:
    """Keeps `panel`'s controls enabled where they apply, as the run, family and prior change."""

    def __init__(self, panel: ControlPanel):
        self.panel = panel
        self.locked_while_running = (
            panel.dataset_combo,
            panel.data_source_button,
            panel.model_combo,
            panel.prior_combo,
            panel.components_spin,
            panel.likelihood_combo,
            panel.arch_combo,
            panel.latent_dim_spin,
            panel.hidden_edit,
            panel.codebook_spin,
            panel.schedule_combo,
            panel.lr_schedule_combo,
            panel.preset_combo,
            panel.batch_spin,
            panel.epochs_spin,
            panel.until_stopped_check,
            panel.seed_spin,
            panel.device_combo,
            panel.reset_button,
        )
        self.running = False
        self.purposes = {
            widget: widget.toolTip()
            for widget in (
                panel.components_spin,
                panel.codebook_spin,
                panel.beta_slider,
                panel.beta_spin,
                panel.epochs_spin,
            )
        }
        panel.model_combo.currentIndexChanged.connect(self.refresh)
        panel.prior_combo.currentIndexChanged.connect(self.refresh)
        panel.until_stopped_check.toggled.connect(self.refresh)

    def set_running(self, running: bool) -> None:
        self.running = running
        self.refresh()

    def unused_reasons(self) -> dict[QWidget, str]:
        """Per control that depends on the family or the prior: why it does not apply ("" if it does)."""
        panel = self.panel
        family = MODEL_FAMILIES.get(panel.model_combo.name())
        quantised = family is not None and family.has_codebook
        mixture = not quantised and panel.prior_combo.name() in MIXTURE_PRIORS
        no_beta = words.NO_BETA if quantised else ""
        return {
            panel.prior_combo: words.NO_PRIOR_CHOICE if quantised else "",
            panel.components_spin: "" if mixture else words.ONLY_MIXTURES,
            panel.codebook_spin: "" if quantised else words.ONLY_VQVAE,
            panel.beta_slider: no_beta,
            panel.beta_spin: no_beta,
            panel.schedule_combo: no_beta,
            panel.epochs_spin: words.UNTIL_STOPPED if panel.until_stopped_check.isChecked() else "",
        }

    def refresh(self, *_) -> None:
        """Locked while a run goes; disabled, its tooltip saying why, where the family or the prior
        has no use for it."""
        reasons = self.unused_reasons()
        for widget in {*self.locked_while_running, *reasons}:
            reason = reasons.get(widget, "")
            widget.setEnabled(
                not reason and not (self.running and widget in self.locked_while_running)
            )
            if isinstance(widget, ChoiceCombo):
                widget.set_unused_reason(reason)
            elif widget in reasons:
                widget.setToolTip(with_reason(self.purposes[widget], reason))
