"""Which data the next run trains on, from the data-source dialog, a drop on the window or the
recent list: the dialog's state model and its controller.

A source is previewed before it is chosen: it loads on a worker (asked of the window's
`ModelJobs`) through the run's data cache (so Train finds it loaded), and an answer about a source
the user has since left is dropped (the jobs' latest-wins line). MNIST-family files are downloaded only when the user asks, with progress and
a Cancel that stops the download at its next block and leaves no partial file.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QApplication, QWidget

from app.controllers.job_kinds import DATA_PREVIEW, FILE_READ, Call
from app.controllers.model_jobs import Answer, ModelJobs
from app.controllers.run import RunController
from app.controls import ControlPanel
from app.data_source_dialog import DataSourceDialog
from app.settings import data_source, forget_data_set, recent_data_sets, remember_data_set
from app.state.data_source import DataSourceState
from app.workers import DataCache
from vae_core.config import DataConfig
from vae_core.data import DatasetInfo, DataSplit, data_location, dataset_for_path
from vae_core.data.downloads import DownloadCancelled
from vae_core.data.mnist_family import (
    IDX_SOURCES,
    missing_files,
    missing_files_message,
    source_folder,
)
from vae_core.errors import VaeStudioError

PREVIEW_COUNT = 16
_CLASSES_NAMED = 12


class SourceVanished(VaeStudioError):
    """The file or folder a data set reads is no longer there."""


@dataclass(frozen=True)
class DataPreview:
    """A source as the dialog shows it before it is chosen; made on a worker."""

    config: DataConfig
    info: DatasetInfo | None  # None while its files are still to be downloaded
    images: np.ndarray | None = None  # a few examples, uint8 (N, H, W) or (N, H, W, C)
    train_size: int = 0
    missing: tuple[str, ...] = ()  # MNIST-family files not downloaded yet

    @classmethod
    def of(cls, config: DataConfig, split: DataSplit) -> DataPreview:
        examples = split.train.images[:PREVIEW_COUNT].numpy() if split.train.is_image else None
        if examples is not None:
            examples = examples[:, 0] if examples.shape[1] == 1 else examples.transpose(0, 2, 3, 1)
        return cls(config, split.info, examples, len(split.train))

    def describe(self) -> str:
        if self.info is None:
            name = self.config.dataset
            megabytes = (
                sum(
                    remote.size for remote in IDX_SOURCES[name].files if remote.name in self.missing
                )
                / 1e6
            )
            return (
                f"Not downloaded yet: Download fetches {', '.join(self.missing)} ({megabytes:.1f} MB) into "
                f"{source_folder(name, self.config)}, or choose a folder of yours that holds them"
            )
        info = self.info
        channels, height, width = info.image_shape
        if info.is_image:
            colour = "grayscale" if channels == 1 else "colour"
            what = f"{info.size:,} images of {width}×{height} pixels, {colour}"
        else:
            what = f"{info.size:,} points in {channels}-D"
        names = ", ".join(info.class_names[:_CLASSES_NAMED]) + (
            ", …" if info.num_classes > _CLASSES_NAMED else ""
        )
        lines = [
            f"{what} ({self.train_size:,} to train, {info.size - self.train_size:,} to test)",
            f"{info.num_classes} {'class' if info.num_classes == 1 else 'classes'}: {names}",
            *info.notes,
        ]
        return "\n".join(lines)


def load_preview(cache: DataCache, config: DataConfig, download: bool, progress) -> DataPreview:
    """The preview of `config` (on a worker). MNIST-family files are fetched only if `download`."""
    location = data_location(config)
    if location is not None and not location.exists():
        raise SourceVanished(f"{location}: not found (moved or deleted?)")
    if config.dataset in IDX_SOURCES and not download:
        missing = missing_files(config.dataset, config)
        if missing and config.data_dir:
            raise VaeStudioError(missing_files_message(config.dataset, config, missing))
        if missing:
            return DataPreview(config, None, missing=missing)
    return DataPreview.of(config, cache.get(config, progress))


def preview_for(
    cache: DataCache, config: DataConfig, download: bool, cancel: threading.Event, control
) -> DataPreview:
    """`load_preview` as a job: its download stops at the next block once the user cancels it or
    another source is asked for; `control` hears its progress."""

    def progress(done: int, total: int) -> None:
        if cancel.is_set() or control.stopped():
            raise DownloadCancelled(
                "download cancelled: files downloaded completely stay, the partial one is removed"
            )
        control.progress(done, total)

    return load_preview(cache, config, download, progress)


def _vanished(configs: list[DataConfig]) -> list[DataConfig]:
    return [config for config in configs if not data_location(config).exists()]


class DataSources(QObject):
    """Opens the dialog, previews sources on workers, puts the chosen one into the controls and
    remembers the user's own data sets that loaded."""

    previewShown = Signal(object)  # DataPreview, after the state has it

    def __init__(
        self,
        controls: ControlPanel,
        runs: RunController,
        jobs: ModelJobs,
        settings: QSettings,
        show_error: Callable[[str], None],
        parent: QWidget,
    ):
        super().__init__(parent)
        self.controls = controls
        self.runs = runs
        self.settings = settings
        self.show_error = show_error
        self.parent_widget = parent
        self.state = DataSourceState()
        self.dialog = None
        self._cancel = threading.Event()  # the user's Cancel of the preview's download
        self._previews = jobs.line(
            DATA_PREVIEW, self, self._previewed, self._preview_failed, self._on_download_progress
        )
        self._checks = jobs.line(FILE_READ, self, self._drop_vanished, self._show_problem)
        self._drops = jobs.line(FILE_READ, self, self._dropped, self._show_problem)
        controls.data_source_button.clicked.connect(self.open_dialog)
        application = QApplication.instance()
        if application is not None:
            # Quitting must not wait for a download to end: the pool's threads are joined at exit.
            application.aboutToQuit.connect(self.cancel_download)

    def _update(self, **values) -> None:
        """Several fields at once: their events come once all are set, so no view draws a mix."""
        with self.state.events.paused():
            for name, value in values.items():
                setattr(self.state, name, value)

    def open_dialog(self) -> None:
        # Another window may have remembered data sets since.
        self.state.recent = recent_data_sets(self.settings)
        if self.dialog is None:
            self.dialog = DataSourceDialog(self, self.parent_widget)
            self.dialog.show_source(self.controls.data_config())
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        recent = list(self.state.recent)
        self._checks.ask(Call(_vanished, (recent,)))

    # Previews.
    def preview(self, config: DataConfig | None, download: bool = False) -> None:
        """Load `config` for the dialog (None: no source yet), dropping whatever was asked before."""
        self._cancel = cancel = threading.Event()
        self._update(
            config=config,
            preview=None,
            loading=config is not None,
            problem="",
            download=None,
        )
        if config is None:
            self._previews.cancel()
            return
        self._previews.ask(Call(preview_for, (self.runs.data, config, download, cancel)))

    def cancel_download(self) -> None:
        self._cancel.set()

    def _on_download_progress(self, done: int, total: int) -> None:
        self.state.download = (done, total)

    def _previewed(self, answer: Answer) -> None:
        preview = answer.value
        self._update(preview=preview, loading=False, download=None)
        self.previewShown.emit(preview)

    def _preview_failed(self, error: Exception) -> None:
        config = self.state.config
        message = (
            str(error) if isinstance(error, VaeStudioError) else f"{type(error).__name__}: {error}"
        )
        if isinstance(error, SourceVanished) and data_source(config) in map(
            data_source, self.state.recent
        ):
            self._forget(config)
            message += ": dropped from the recent data sets"
        self._update(loading=False, problem=message, download=None)
        if not isinstance(error, DownloadCancelled):
            self._show_problem(error, message)

    def _show_problem(self, error: Exception, message: str = "") -> None:
        self.show_error(message or str(error))

    # Choosing.
    def choose(self, config: DataConfig) -> bool:
        """Make `config` the data of the next run: the controls show it, the window preloads it."""
        if self.runs.status.training:
            self.show_error("a run is going: stop it before choosing other data")
            return False
        self.controls.choose_data(config)
        return True

    def open_dropped(self, path: str) -> None:
        """A file or folder dropped on the window: whether it is a data set is decided on a worker."""
        self._drops.ask(Call(dataset_for_path, (path,)))

    def _dropped(self, answer: Answer) -> None:
        dataset = answer.value
        self.choose(
            dataclasses.replace(
                self.controls.data_config(), **data_source(DataConfig(dataset=dataset))
            )
        )

    # Recent data sets.
    def remember_loaded(self, dataset: str, problem: str) -> None:
        """A data set loaded ahead of Train (`problem`: "" or why not): a user's own is kept."""
        config = self.controls.data_config()
        if not problem and config.dataset == dataset and data_location(config) is not None:
            remember_data_set(self.settings, config)
            self.state.recent = recent_data_sets(self.settings)

    def _forget(self, config: DataConfig) -> None:
        forget_data_set(self.settings, config)
        self.state.recent = recent_data_sets(self.settings)

    def _drop_vanished(self, answer: Answer) -> None:
        vanished = answer.value
        for config in vanished:
            self._forget(config)
        if vanished:
            gone = ", ".join(str(data_location(config)) for config in vanished)
            self.show_error(f"dropped from the recent data sets, no longer there: {gone}")
