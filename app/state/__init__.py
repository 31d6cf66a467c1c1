"""What the window shows, in one Qt-free model: the run, the model on show and the explorer's
choices (psygnal signals; no widget, no thread, no torch work here). The Runs list's state is
in `app.state.runs`, the data-source dialog's in `app.state.data_source`.

Only the GUI thread changes it. Controllers write it (from the user's actions and their workers'
answers); views subscribe and draw. When another model comes on show, `ShownModel.show` replaces
everything that depends on it in one step and announces it once, so no view ever draws from a
mix of the old model and the new one.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

import numpy as np
import torch
from psygnal import Signal, evented

from app.history import RunHistory
from vae_core.config import RunConfig
from vae_core.data import ImageDataset
from vae_core.latent import LatentPlane
from vae_core.models import Capabilities, LatentModel
from vae_core.training.trainer import TrainingSnapshot


class RunStatus(enum.Enum):
    IDLE = "idle"  # no run yet
    STARTING = "starting"  # loading data and building the model
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"  # ended by Stop: Continue goes on from here
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def training(self) -> bool:
        """Whether the run's thread is busy with it (another run cannot start)."""
        return self in _TRAINING


_TRAINING = frozenset({RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.STOPPING})


# The window's "until I stop it" budget: a step count no run reaches.
UNTIL_STOPPED_STEPS = 10**12


class RunModel:
    """The run: its status, config and device, its latest snapshot and its metric history."""

    status_changed = Signal(object)  # RunStatus
    started = Signal()  # config and device are known
    snapshot_added = Signal(object)  # TrainingSnapshot
    history_replaced = Signal()  # cleared, or filled from a checkpoint
    rows_added = Signal()  # rows read from a followed run's metrics

    def __init__(self) -> None:
        self.status = RunStatus.IDLE
        self.config: RunConfig | None = None
        self.device = ""
        self.latest: TrainingSnapshot | None = None
        self.history = RunHistory()

    @property
    def open_ended(self) -> bool:
        """Whether the run goes on until the user stops it."""
        return self.history.total_steps >= UNTIL_STOPPED_STEPS

    def set_status(self, status: RunStatus) -> None:
        if status is not self.status:
            self.status = status
            self.status_changed.emit(status)

    def begin(self, history_rows: np.ndarray | None = None) -> None:
        """A new run (or a resumed one, with the history its checkpoint carried)."""
        self.config = None
        self.device = ""
        self.latest = None
        self.history.replace(history_rows)
        self.set_status(RunStatus.STARTING)
        self.history_replaced.emit()

    def set_started(self, config: RunConfig, device: str) -> None:
        self.config = config
        self.device = device
        self.started.emit()

    def add_snapshot(self, snapshot: TrainingSnapshot) -> None:
        self.latest = snapshot
        self.history.append(snapshot)
        self.snapshot_added.emit(snapshot)

    def add_records(self, rows) -> None:
        """Rows of the run's record that no snapshot carried (a stopped run's last steps): the
        record's (the metrics export's), not the curves'."""
        self.history.add_records(rows)

    def add_rows(self, rows: np.ndarray) -> None:
        """More of a followed run's metrics (METRICS_COLUMNS rows), with no snapshot behind them."""
        for row in rows:
            self.history.add_row(tuple(row))
        self.rows_added.emit()

    def show_history(self, rows: np.ndarray | None) -> None:
        """An opened checkpoint's curves, with no run behind them."""
        self.latest = None
        self.history.replace(rows)
        self.history_replaced.emit()


@dataclass(frozen=True)
class ModelOnShow:
    """A model the views show: what it is and where it came from. Its weights change apart
    (`ShownModel.weights`), many times a second while it trains."""

    config: RunConfig  # complete: input shape and classes known
    capabilities: Capabilities
    source: str  # "run" or "checkpoint"
    test_data: ImageDataset | None
    path: str = ""  # the checkpoint's file, for a checkpoint
    step: int = 0  # the training step of the weights it came with
    # A CPU copy built off the GUI thread, for the GUI thread's decodes: the decode service
    # loads the newest weights into it, and no one else holds it.
    viewer: LatentModel | None = field(default=None, compare=False, repr=False)

    @property
    def planar(self) -> bool:
        """2-D points rather than images."""
        return tuple(self.config.model.input_shape) == (2, 1, 1)

    @property
    def latent_positions_dim(self) -> int:
        """The numbers of one point of the map: latent_dim, or N*D for a VQ-VAE's N code vectors."""
        return self.capabilities.positions * self.config.model.latent_dim

    @property
    def description(self) -> str:
        model = self.config.model
        if self.capabilities.has_codebook:
            return f"{model.family}, {model.codebook_size} codes of {model.latent_dim}-D"
        return f"{model.family}, {model.prior} prior, {model.latent_dim}-D"


class AppState:
    """Everything the window shows."""

    def __init__(self) -> None:
        self.run = RunModel()
        self.shown = ShownModel()


class ShownModel:
    """The model on show and its newest weights, numbered by generation."""

    model_changed = Signal()  # another model (or none): everything is to be redrawn
    weights_changed = Signal(int)  # newer weights of the same model: their generation

    def __init__(self) -> None:
        self.model: ModelOnShow | None = None
        self.weights: Mapping[str, torch.Tensor] | None = None
        self.step: int | None = None  # the training step of the weights
        self.generation = 0
        self.explorer = ExplorerState()

    def show(
        self, model: ModelOnShow | None, weights: Mapping[str, torch.Tensor] | None = None
    ) -> None:
        """Put `model` on show: the explorer's choices start afresh with it."""
        self.model = model
        self.weights = weights
        self.step = None if model is None else model.step
        self.generation += 1
        self.explorer.reset(model)
        self.model_changed.emit()

    def set_weights(self, weights: Mapping[str, torch.Tensor], step: int | None) -> None:
        """CPU weights that no one else mutates (a snapshot's copy)."""
        if self.model is None:
            return
        self.weights = weights
        self.step = step
        self.generation += 1
        self.weights_changed.emit(self.generation)


# Test examples drawn on the map at most: a seeded subset of a larger test split.
MAX_POINTS = 2000


def map_examples(test_data: ImageDataset | None) -> ImageDataset | None:
    """The test examples the map shows: all of them, or a fixed random MAX_POINTS."""
    if test_data is None or len(test_data) <= MAX_POINTS:
        return test_data
    order = torch.randperm(len(test_data), generator=torch.Generator().manual_seed(0))
    return test_data.subset(order[:MAX_POINTS].sort().values)


@dataclass
class EncodedExamples:
    """The map's examples encoded by the weights of `generation`: posterior means (N, latent_dim),
    and the mean KL per dimension (D,) where the family has one."""

    codes: np.ndarray
    generation: int
    kl_per_dim: np.ndarray | None = None


@dataclass
class SelectedPosterior:
    """q(z|x) of the selected example: mean and standard deviation (latent_dim,), and its KL per
    dimension where the family has one."""

    mean: np.ndarray
    std: np.ndarray
    kl_per_dim: np.ndarray | None


@dataclass
class EmbeddedCodes:
    """The map's examples placed by t-SNE: (N, 2), from the codes of weights `generation`."""

    xy: np.ndarray
    generation: int


# How the map's plane is chosen (the words are the plane controls' own). t-SNE places the codes
# by their neighbours, with no map back from the plane to codes: nothing on it can be decoded.
PLANE_DIMENSIONS = "Two dimensions"
PLANE_PRINCIPAL = "Principal components"
PLANE_TSNE = "t-SNE"
ANCHOR_ZERO = "zero"
ANCHOR_SELECTED = "selected image"


@dataclass(frozen=True)
class PlaneChoice:
    """The map's plane: two latent dimensions (the others at zero or at the selection's code), or
    the encoded examples' first two principal components."""

    mode: str = PLANE_DIMENSIONS
    x: int = 0
    y: int = 1
    anchor: str = ANCHOR_ZERO

    def for_model(self, dim: int, principal: bool) -> PlaneChoice:
        """The choice a new model starts with: its first two dimensions (principal components for
        a codebook's positions), the anchor kept."""
        mode = PLANE_PRINCIPAL if principal else PLANE_DIMENSIONS
        return PlaneChoice(mode, 0, min(1, max(dim - 1, 0)), self.anchor)


@dataclass(frozen=True)
class LayerTicks:
    """Which of the map's layers the user wants drawn (where the model has them)."""

    tiles: bool = True
    points: bool = True
    prior: bool = True


def _explorer_fields() -> tuple[str, ...]:
    return tuple(item.name for item in fields(ExplorerState))


@dataclass
class ExplorerState:
    """The explorer's choices and findings for the model on show, one event per field
    (`events.<field>`, psygnal): any assignment of another object announces itself, so a field
    is never changed in place. A new model resets them all quietly (its `model_changed` says so)."""

    examples: ImageDataset | None = None  # the test examples on the map
    plane: LatentPlane = field(default_factory=lambda: LatentPlane.of_dimensions(np.zeros(2), 0, 1))
    plane_choice: PlaneChoice = PlaneChoice()
    layers: LayerTicks = LayerTicks()
    cursor: np.ndarray = field(
        default_factory=lambda: np.zeros(2)
    )  # on the plane; kept across models
    selected: int | None = None  # an index into `examples`
    posterior: SelectedPosterior | None = None  # of the selected example
    label: int = 0  # the class a conditional decoder is given
    encoded: EncodedExamples | None = None
    embedding: EmbeddedCodes | None = None  # the encoded examples placed by t-SNE
    kl_per_dim: np.ndarray | None = None  # (D,) from the run's latest snapshot, while it trains
    # The codes an interpolation runs between, chosen from the cursor or the selection.
    interpolation_ends: dict[str, np.ndarray | None] = field(
        default_factory=lambda: {"start": None, "end": None}
    )
    path: np.ndarray | None = None  # an interpolation's codes (M, latent_dim), drawn on the map
    drawn: tuple[np.ndarray, np.ndarray] | None = None  # a drawn image's posterior (mean, std)
    decoded_generation: int = -1  # the weights the explorer's own copy of the model holds now

    def reset(self, model: ModelOnShow | None) -> None:
        dim = 2 if model is None else max(2, model.latent_positions_dim)
        with self.events.blocked():
            self.examples = None if model is None else map_examples(model.test_data)
            self.plane = LatentPlane.of_dimensions(np.zeros(dim), 0, 1)
            principal = model is not None and model.capabilities.has_codebook
            self.plane_choice = self.plane_choice.for_model(dim, principal)
            self.selected = None
            self.posterior = None
            self.label = 0
            self.encoded = None
            self.embedding = None
            self.kl_per_dim = None
            self.interpolation_ends = {"start": None, "end": None}
            self.path = None
            self.drawn = None
            self.decoded_generation = -1

    def chosen_plane(self, dim: int) -> LatentPlane:
        """The plane `plane_choice` asks for, for codes of `dim` numbers: the encoded examples'
        principal components (turned to agree with the last such plane), or two dimensions with
        the others at zero or at the selected example's code."""
        choice = self.plane_choice
        if choice.mode == PLANE_PRINCIPAL and self.encoded is not None:
            previous = self.plane if self.plane.axis_names == ("PC1", "PC2") else None
            return LatentPlane.principal(self.encoded.codes, previous)
        first, second = min(choice.x, dim - 1), min(choice.y, dim - 1)
        if dim >= 2 and first == second:
            second = (first + 1) % dim
        selected = self.selected_code()
        anchored = choice.anchor == ANCHOR_SELECTED and selected is not None
        plane = LatentPlane.of_dimensions(selected if anchored else np.zeros(dim), first, second)
        # t-SNE's map has axes but no plane of codes: the hidden cursor keeps one of two dimensions.
        return (
            replace(plane, axis_names=("t-SNE 1", "t-SNE 2")) if not self.plane_decodes else plane
        )

    @property
    def plane_decodes(self) -> bool:
        """Whether a point of the map is a code (tiles, cursor, contours): not for t-SNE."""
        return self.plane_choice.mode != PLANE_TSNE

    def placed(self, codes: np.ndarray) -> np.ndarray | None:
        """Where the encoded examples' `codes` (N, D) sit on the map (N, 2); None while t-SNE
        has not placed them yet."""
        if self.plane_decodes:
            return self.plane.project(codes)
        return None if self.embedding is None else self.embedding.xy

    def cursor_code(self) -> np.ndarray:
        return self.plane.codes(self.cursor[None])[0]

    def selected_code(self) -> np.ndarray | None:
        return None if self.posterior is None else self.posterior.mean


# Every assignment is news (arrays and dicts are replaced, never changed in place): the fields
# compare by identity.
ExplorerState = evented(
    ExplorerState, equality_operators=dict.fromkeys(_explorer_fields(), operator.is_)
)
