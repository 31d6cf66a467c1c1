"""The run's settings as widgets: data, model, objective, optimiser.

Every choice comes from the core's registries, so families, priors and data sets added there
appear here by themselves. The panel turns its widgets into a `RunConfig` and back; fields it
has no widget for (the data set's size, say) come from the last config applied.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import control_words as words
from app.choice_combo import ChoiceCombo
from app.control_enabling import WhatApplies
from app.control_widgets import (
    LogSlider,
    LogSpinBox,
    combo,
    group,
    hidden_sizes_edit,
    parse_hidden_sizes,
    select,
    spin,
)
from app.data_choice import chosen_data, keep_source, on_chosen_source, other_data_line
from app.naming import named
from app.state import UNTIL_STOPPED_STEPS
from vae_core.config import DataConfig, RunConfig
from vae_core.data import NAMED_DATASETS
from vae_core.data.points import POINT_CLOUDS
from vae_core.defaults import defaults_for
from vae_core.device import available_devices
from vae_core.errors import VaeStudioError
from vae_core.models import MODEL_FAMILIES
from vae_core.models.likelihoods import LIKELIHOODS
from vae_core.models.networks import ARCHITECTURES
from vae_core.models.priors import PRIORS
from vae_core.presets import read_presets
from vae_core.training.schedules import BETA_SCHEDULES, LR_SCHEDULES

BETA_RANGE = (0.01, 100.0)
# Priors whose number of components (or pseudo-inputs) the panel sets.
# Networks that take a vector: the ones that suit point clouds (conv needs an image).
VECTOR_ARCHITECTURES = ("mlp", "linear")


class ControlPanel(QWidget):
    """The settings of the next run; β and the learning rate also steer the current one."""

    betaChanged = Signal(float)
    learningRateChanged = Signal(float)
    dataChanged = Signal()  # the data set choice changed: worth loading it ahead of Train
    said = Signal(str)  # a line for the status bar about what a choice changed
    applied = Signal()  # a whole config was applied (its fields without a widget too)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "controlPanel", "Run settings")
        self._base = RunConfig()
        self._build_model_fields(words.TIPS)
        self._build_training_fields(words.TIPS)
        self._lay_out()
        self.what_applies = WhatApplies(self)
        self.apply_config(self._base)
        self.what_applies.refresh()
        self._beta.changed.connect(self.betaChanged)
        self.lr_spin.valueChanged.connect(self.learningRateChanged)
        self.dataset_combo.currentTextChanged.connect(self._dataset_chosen)
        self.dataset_combo.currentTextChanged.connect(self.dataChanged)

    def _build_model_fields(self, tips: dict[str, str]) -> None:
        self.dataset_combo = combo("datasetCombo", "Data set", NAMED_DATASETS, tips["dataset"])
        self.data_source_button = named(QToolButton(), "dataSourceButton", "Choose a data source")
        self.data_source_button.setText("…")
        self.data_source_button.setToolTip(
            "Train on other data: MNIST files or a download, a folder of your images, an .npz/.npy file (Ctrl+D)"
        )
        self.model_combo = ChoiceCombo(
            "modelCombo", "Model family", tips["family"], MODEL_FAMILIES, words.FAMILIES
        )
        self.prior_combo = ChoiceCombo("priorCombo", "Prior", tips["prior"], PRIORS, words.PRIORS)
        self.components_spin = spin(
            "priorComponentsSpinBox", "Prior components", 1, 512, tips["components"]
        )
        self.likelihood_combo = ChoiceCombo(
            "likelihoodCombo", "Likelihood", tips["likelihood"], LIKELIHOODS, words.LIKELIHOODS
        )
        self.arch_combo = ChoiceCombo(
            "archCombo", "Architecture", tips["arch"], ARCHITECTURES, words.ARCHITECTURES
        )
        self.latent_dim_spin = spin(
            "latentDimSpinBox", "Latent dimension", 1, 256, tips["latent_dim"]
        )
        self.hidden_edit = hidden_sizes_edit(tips["hidden"])
        self.codebook_spin = spin("codebookSizeSpinBox", "Codebook size", 2, 4096, tips["codebook"])

    def _build_training_fields(self, tips: dict[str, str]) -> None:
        self._beta = LogSlider("beta", "Beta", BETA_RANGE, tips["beta"])
        self.beta_slider, self.beta_spin = self._beta.slider, self._beta.spin
        self.schedule_combo = ChoiceCombo(
            "scheduleCombo", "Beta schedule", tips["schedule"], BETA_SCHEDULES, words.BETA_SCHEDULES
        )

        self.lr_spin = named(LogSpinBox(1e-6, 1.0), "learningRateSpinBox", "Learning rate")
        self.lr_spin.setToolTip(tips["lr"])
        self.lr_schedule_combo = ChoiceCombo(
            "lrScheduleCombo",
            "Learning-rate schedule",
            tips["lr_schedule"],
            LR_SCHEDULES,
            words.LR_SCHEDULES,
        )
        # Read once: a handful of small files, so that choosing one is instant. A bad file is
        # left out, and the window names it once it can show messages.
        self.presets, self.preset_problems = read_presets()
        self.preset_combo = combo(
            "presetCombo", "Preset", ["(none)", *self.presets], tips["preset"]
        )
        descriptions = [
            "No recipe: the settings below as you set them",
            *(p.description for p in self.presets.values()),
        ]
        for index, description in enumerate(descriptions):
            self.preset_combo.setItemData(index, description, Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.textActivated.connect(self._preset_chosen)
        self.batch_spin = spin("batchSizeSpinBox", "Batch size", 1, 65536, tips["batch"])
        self.epochs_spin = spin("epochsSpinBox", "Epochs", 1, 100000, tips["epochs"])
        self.until_stopped_check = named(
            QCheckBox("until I stop it"), "untilStoppedCheck", "Train until stopped"
        )
        self.until_stopped_check.setToolTip("No budget: the run goes on until you press Stop")
        self.reset_button = named(
            QPushButton("Reset to defaults"), "resetDefaultsButton", "Reset settings to defaults"
        )
        self.reset_button.setToolTip("Every setting back to its default for the chosen data set")
        self.reset_button.clicked.connect(self.reset_to_defaults)
        self.seed_spin = spin("seedSpinBox", "Seed", 0, 2**31 - 1, tips["seed"])
        self.device_combo = combo("deviceCombo", "Device", available_devices(), tips["device"])

    def _lay_out(self) -> None:
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.epochs_spin, 1)
        budget_row.addWidget(self.until_stopped_check)
        dataset_row = QHBoxLayout()
        dataset_row.addWidget(self.dataset_combo, 1)
        dataset_row.addWidget(self.data_source_button)
        layout = QVBoxLayout(self)
        layout.addWidget(group("Data", [("Preset", self.preset_combo), ("Data set", dataset_row)]))
        layout.addWidget(
            group(
                "Model",
                [
                    ("Family", self.model_combo),
                    ("Prior", self.prior_combo),
                    ("Components", self.components_spin),
                    ("Likelihood", self.likelihood_combo),
                    ("Architecture", self.arch_combo),
                    ("Latent dim", self.latent_dim_spin),
                    ("Hidden", self.hidden_edit),
                    ("Codebook size", self.codebook_spin),
                ],
            )
        )
        layout.addWidget(
            group("Objective", [("β", self._beta.row), ("Schedule", self.schedule_combo)])
        )
        layout.addWidget(
            group(
                "Optimiser",
                [
                    ("Learning rate", self.lr_spin),
                    ("LR schedule", self.lr_schedule_combo),
                    ("Batch size", self.batch_spin),
                    ("Epochs", budget_row),
                    ("Seed", self.seed_spin),
                    ("Device", self.device_combo),
                ],
            )
        )
        layout.addWidget(self.reset_button)
        layout.addStretch(1)

    def _dataset_chosen(self, name: str) -> None:
        """The data set's own defaults (`vae_core.defaults`: the command line's too): points take
        a likelihood and networks for vectors, images the image ones. The user may change either
        afterwards (conv with points is refused in `config()`)."""
        defaults = defaults_for(name).model
        select(self.likelihood_combo, defaults.likelihood)
        if name in POINT_CLOUDS and self.arch_combo.name() not in VECTOR_ARCHITECTURES:
            select(self.arch_combo, defaults.arch)

    # β: the slider and the spin box show one value.
    @property
    def beta(self) -> float:
        return self.beta_spin.value()

    def set_beta(self, beta: float) -> None:
        self.beta_spin.setValue(beta)

    def scale_beta(self, decades: float) -> None:
        self.set_beta(self.beta * 10.0**decades)

    def set_run_active(self, active: bool) -> None:
        self.what_applies.set_running(active)

    def _preset_chosen(self, name: str) -> None:
        """A preset's recipe, on the files the user chose for its data set; where it names
        another data set, a line says so."""
        if name not in self.presets:
            return
        before = self.data_config()
        config = on_chosen_source(self.dataset_combo, self.presets[name].config)
        self.apply_config(config)
        if config.data.dataset != before.dataset:
            self.said.emit(other_data_line(name, config.data, before))

    def reset_to_defaults(self) -> None:
        """Every setting back to its default for the chosen data set (which stays chosen)."""
        self.apply_config(defaults_for(self.dataset_combo.currentText()))
        self.until_stopped_check.setChecked(False)
        self.preset_combo.setCurrentIndex(0)

    def hidden_sizes(self) -> tuple[int, ...]:
        return parse_hidden_sizes(self.hidden_edit.text())

    def data_config(self) -> DataConfig:
        # An entry chosen with its own files (MNIST from a folder, images at a size) keeps them.
        return chosen_data(self.dataset_combo, self._base.data)

    def choose_data(self, config: DataConfig) -> None:
        """Select the data set of `config` with where and how its files are read (from the
        data-source dialog or a drop); the rest of the data settings stay."""
        before = self.data_config()
        keep_source(self.dataset_combo, config)
        select(self.dataset_combo, config.dataset)
        if self.dataset_combo.currentText() == before.dataset and self.data_config() != before:
            self.dataChanged.emit()

    def _max_steps(self) -> int | None:
        if self.until_stopped_check.isChecked():
            return UNTIL_STOPPED_STEPS
        base = self._base.train
        # The epochs field sets the budget; a step budget would silently override it.
        keeps_steps = (
            self.epochs_spin.value() == base.epochs and (base.max_steps or 0) < UNTIL_STOPPED_STEPS
        )
        return base.max_steps if keeps_steps else None

    def config(self) -> RunConfig:
        """The run the panel describes; its choices by registry name (`vamp`), not as shown."""
        base = self._base
        dataset, arch = self.dataset_combo.currentText(), self.arch_combo.name()
        if dataset in POINT_CLOUDS and arch not in VECTOR_ARCHITECTURES:
            raise VaeStudioError(
                f"{dataset} is a set of 2-D points, not images: the {arch} architecture needs images, "
                f"choose {' or '.join(VECTOR_ARCHITECTURES)}"
            )
        return RunConfig(
            data=self.data_config(),
            model=dataclasses.replace(
                base.model,
                family=self.model_combo.name(),
                prior=self.prior_combo.name(),
                likelihood=self.likelihood_combo.name(),
                arch=arch,
                latent_dim=self.latent_dim_spin.value(),
                hidden=self.hidden_sizes(),
                prior_components=self.components_spin.value(),
                codebook_size=self.codebook_spin.value(),
            ),
            train=dataclasses.replace(
                base.train,
                beta=self.beta,
                beta_schedule=self.schedule_combo.name(),
                lr=self.lr_spin.value(),
                lr_schedule=self.lr_schedule_combo.name(),
                batch_size=self.batch_spin.value(),
                epochs=self.epochs_spin.value(),
                max_steps=self._max_steps(),
                seed=self.seed_spin.value(),
                device=self.device_combo.currentText(),
            ),
        )

    def apply_config(self, config: RunConfig) -> None:
        self._base = config
        # The config's own model choices win over the ones a data set suggests.
        previous = self.dataset_combo.currentText()
        self.dataset_combo.blockSignals(True)
        keep_source(self.dataset_combo, config.data)
        select(self.dataset_combo, config.data.dataset)
        self.dataset_combo.blockSignals(False)
        if self.dataset_combo.currentText() != previous:
            self.dataChanged.emit()
        select(self.model_combo, config.model.family)
        select(self.prior_combo, config.model.prior)
        select(self.likelihood_combo, config.model.likelihood)
        select(self.arch_combo, config.model.arch)
        self.latent_dim_spin.setValue(config.model.latent_dim)
        self.hidden_edit.setText(",".join(str(size) for size in config.model.hidden))
        self.components_spin.setValue(config.model.prior_components)
        self.codebook_spin.setValue(config.model.codebook_size)
        self.set_beta(min(max(config.train.beta, BETA_RANGE[0]), BETA_RANGE[1]))
        select(self.schedule_combo, config.train.beta_schedule)
        self.lr_spin.setValue(config.train.lr)
        select(self.lr_schedule_combo, config.train.lr_schedule)
        self.batch_spin.setValue(config.train.batch_size)
        self.epochs_spin.setValue(config.train.epochs)
        self.until_stopped_check.setChecked((config.train.max_steps or 0) >= UNTIL_STOPPED_STEPS)
        self.seed_spin.setValue(config.train.seed)
        devices = available_devices()
        # A checkpoint from a CUDA machine opens on one without: train wherever is possible.
        select(self.device_combo, config.train.device if config.train.device in devices else "auto")
        self.applied.emit()

    @property
    def base(self) -> RunConfig:
        """The config applied last: what the panel has no widget for (the data's size) is its."""
        return self._base

    def set_base(self, config: RunConfig) -> None:
        """Put back a base (an undone change's), leaving the widgets as they are."""
        self._base = config
