"""The data-source dialog: where the next run's data comes from, with a preview before training.

The form turns the user's choices into a `DataConfig` and asks the controller (`app.data_source`)
for its preview; what the dialog shows below the form (preview, counts, problems, download
progress, the recent list) it draws from the controller's state model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.explorer.image_widgets import ImageGrid
from app.naming import named
from app.settings import data_source
from vae_core.config import DataConfig
from vae_core.data.mnist_family import IDX_SOURCES, source_folder
from vae_core.data.user_files import COLOR_CHANNELS, MAX_IMAGE_SIDE

# The kinds of source, as the form names them, and the prefix of their data set names ("" for
# the MNIST family, known by name).
KINDS = {
    "MNIST family": "",
    "Image folder (subfolders are labels)": "folder",
    "IDX folder (MNIST's file layout)": "idx",
    "NumPy file (.npz or .npy)": "npz",
}
DOWNLOAD, OWN_FOLDER = "Download into the cache folder", "Files in a folder of mine"
PREVIEW_COLUMNS = 8
RECENT_ROWS_SHOWN = 4


def _row(*widgets) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, (QLineEdit, QLabel)) else 0)
    return row


def _button(name: str, text: str, tip: str, slot) -> QPushButton:
    button = named(QPushButton(text), name, text.rstrip("…"))
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


def describe_source(config: DataConfig) -> str:
    """A recent data set in the list: its name, and where and how its files are read."""
    how = [f"{config.image_size}×{config.image_size}"] if config.image_size else []
    if config.color != DataConfig().color:
        how.append(config.color)
    where = f" from {config.data_dir}" if config.data_dir else ""
    return config.dataset + where + (f" ({', '.join(how)})" if how else "")


class DataSourceDialog(QDialog):
    def __init__(self, sources, parent: QWidget | None = None):
        super().__init__(parent)
        named(self, "dataSourceDialog", "Data source")
        self.setWindowTitle("Open Data Set")
        self.sources = sources
        self.state = sources.state
        self._progress_dialog: QProgressDialog | None = None
        self._build_source_fields()
        self._build_form()
        self._build_preview()
        self._lay_out()
        self._connect_signals()
        self._on_model_recent()
        self._on_model_preview()

    def _build_source_fields(self) -> None:
        """The fields that say which data set to read and how."""
        self.kind_combo = named(QComboBox(), "dataKindCombo", "Kind of data")
        self.kind_combo.addItems(list(KINDS))
        self.kind_combo.setToolTip(
            "What the data is: a set of the MNIST family, your own images, IDX files or arrays"
        )
        self.set_combo = named(QComboBox(), "mnistSetCombo", "MNIST-family set")
        self.set_combo.addItems(list(IDX_SOURCES))
        self.set_combo.setToolTip(
            "mnist: handwritten digits; fashion-mnist: clothes; kmnist: Japanese characters"
        )
        self.where_combo = named(QComboBox(), "mnistWhereCombo", "Where the files are")
        self.where_combo.addItems([DOWNLOAD, OWN_FOLDER])
        self.where_combo.setToolTip(
            "Download the four files once, or read them from a folder that holds them"
        )
        self.path_edit = named(QLineEdit(), "dataPathEdit", "File or folder")
        self.path_edit.setToolTip("The file or folder to read; Browse picks one")
        self.browse_button = _button(
            "dataBrowseButton", "Browse…", "Pick the file or folder", self._browse
        )
        self.cache_label = named(QLabel(), "cacheFolderLabel", "Cache folder")
        self.cache_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_cache_button = _button(
            "openCacheButton",
            "Open Folder",
            "Show the cache folder in your file manager",
            self._open_cache,
        )
        self.download_button = _button(
            "downloadButton",
            "Download",
            "Download the set's four files into the cache folder",
            self._download,
        )
        self.size_spin = named(QSpinBox(), "imageSizeSpinBox", "Image size")
        self.size_spin.setRange(0, MAX_IMAGE_SIDE)
        self.size_spin.setSpecialValueText("as they are")
        self.size_spin.setSuffix(" px")
        self.size_spin.setKeyboardTracking(False)  # a typed size loads once, not at every digit
        self.size_spin.setToolTip(
            "Your images are resized to squares of this side; 'as they are' keeps their size"
        )
        self.color_combo = named(QComboBox(), "imageColorCombo", "Image colour")
        self.color_combo.addItems(list(COLOR_CHANNELS))
        self.color_combo.setToolTip("Grayscale reads one channel per pixel, rgb three")

    def _build_form(self) -> None:
        self.form = QFormLayout()
        self.form.addRow("Kind", self.kind_combo)
        self.form.addRow("Set", self.set_combo)
        self.form.addRow("Files", self.where_combo)
        self.location_row = _row(self.path_edit, self.browse_button)
        self.form.addRow("Location", self.location_row)
        self.cache_row = _row(self.cache_label, self.open_cache_button, self.download_button)
        self.form.addRow("Cache folder", self.cache_row)
        self.form.addRow("Image size", self.size_spin)
        self.form.addRow("Colour", self.color_combo)

    def _build_preview(self) -> None:
        """The recent sets, the preview of the chosen one and the dialog's buttons."""
        self.recent_list = named(QListWidget(), "recentDataList", "Recent data sets")
        self.recent_list.setToolTip(
            "Your data sets that loaded lately, newest first: click one to preview it"
        )
        self.recent_label = QLabel("Recent")
        self.preview_grid = named(ImageGrid(), "dataPreview", "Preview of the data")
        self.preview_grid.setMinimumSize(420, 110)
        self.summary_label = named(QLabel(), "dataSummary", "Count, shape and classes")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = named(
            self.buttons.button(QDialogButtonBox.StandardButton.Ok), "dataOkButton", "Use this data"
        )
        self.ok_button.setToolTip("Train the next run on this data")

    def _lay_out(self) -> None:
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.recent_label)
        layout.addWidget(self.recent_list)
        layout.addWidget(QLabel("Preview"))
        layout.addWidget(self.preview_grid, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.buttons)
        self.resize(640, 560)

    def _connect_signals(self) -> None:
        for combo in (self.kind_combo, self.set_combo, self.where_combo, self.color_combo):
            combo.currentIndexChanged.connect(self._source_edited)
        self.size_spin.valueChanged.connect(self._source_edited)
        self.path_edit.editingFinished.connect(self._source_edited)
        self.recent_list.itemClicked.connect(self._recent_picked)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.rejected.connect(self.sources.cancel_download)
        events = self.state.events
        events.recent.connect(self._on_model_recent)
        for changed in (events.preview, events.loading, events.problem, events.download):
            changed.connect(self._on_model_preview)

    # The form.
    @property
    def kind(self) -> str:
        return KINDS[self.kind_combo.currentText()]

    def source_config(self) -> DataConfig | None:
        """The source the form describes, on the run's other data settings; None while incomplete."""
        base = self.sources.controls.data_config()
        path = self.path_edit.text().strip()
        if self.kind == "":
            own = self.where_combo.currentText() == OWN_FOLDER
            if own and not path:
                return None
            source = DataConfig(
                dataset=self.set_combo.currentText(), data_dir=path if own else None
            )
        elif not path:
            return None
        else:
            kind = "npy" if self.kind == "npz" and path.lower().endswith(".npy") else self.kind
            own_images = kind != "idx"
            source = DataConfig(
                dataset=f"{kind}:{path}",
                image_size=(self.size_spin.value() or None) if own_images else None,
                color=self.color_combo.currentText() if own_images else DataConfig().color,
            )
        return dataclasses.replace(base, **data_source(source))

    def show_source(self, config: DataConfig) -> None:
        """Fill the form with `config` (the controls' data, a recent one) and preview it."""
        kind, separator, location = config.dataset.partition(":")
        widgets = (
            self.kind_combo,
            self.set_combo,
            self.where_combo,
            self.path_edit,
            self.size_spin,
            self.color_combo,
        )
        for widget in widgets:
            widget.blockSignals(True)
        if separator:
            prefix = "npz" if kind == "npy" else kind
            self.kind_combo.setCurrentText(
                next(text for text, value in KINDS.items() if value == prefix)
            )
            self.path_edit.setText(location)
        elif config.dataset in IDX_SOURCES:
            self.kind_combo.setCurrentText(next(iter(KINDS)))
            self.set_combo.setCurrentText(config.dataset)
            self.where_combo.setCurrentText(OWN_FOLDER if config.data_dir else DOWNLOAD)
            self.path_edit.setText(config.data_dir or "")
        self.size_spin.setValue(config.image_size or 0)
        self.color_combo.setCurrentText(config.color)
        for widget in widgets:
            widget.blockSignals(False)
        self._source_edited()

    def _source_edited(self) -> None:
        kind, own = self.kind, self.where_combo.currentText() == OWN_FOLDER
        mnist = kind == ""
        for field, visible in (
            (self.set_combo, mnist),
            (self.where_combo, mnist),
            (self.location_row, not mnist or own),
            (self.cache_row, mnist and not own),
            (self.size_spin, kind in ("folder", "npz")),
            (self.color_combo, kind in ("folder", "npz")),
        ):
            self.form.setRowVisible(field, visible)
        if mnist:
            self.cache_label.setText(str(source_folder(self.set_combo.currentText(), DataConfig())))
        config = self.source_config()
        # The same source again loads again only after a problem (the user may have fixed it).
        if config != self.state.config or self.state.problem:
            self.sources.preview(config)

    def _browse(self) -> None:
        start = self.path_edit.text() or str(Path.home())
        if self.kind == "npz":
            path, _ = QFileDialog.getOpenFileName(
                self, "Open NumPy file", start, "NumPy arrays (*.npz *.npy)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "Choose the folder", start)
        if path:
            self.path_edit.setText(path)
            self._source_edited()

    def _recent_picked(self, item: QListWidgetItem) -> None:
        self.show_source(item.data(Qt.ItemDataRole.UserRole))

    def _open_cache(self) -> None:
        folder = Path(self.cache_label.text())
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.sources.show_error(f"{folder}: cannot create the cache folder ({error.strerror})")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _download(self) -> None:
        if (config := self.source_config()) is not None:
            self.sources.preview(config, download=True)

    def _accept(self) -> None:
        preview = self.state.preview
        if preview is not None and preview.info is not None and self.sources.choose(preview.config):
            self.accept()

    # What the state says.
    def _on_model_recent(self) -> None:
        self.recent_label.setVisible(bool(self.state.recent))
        self.recent_list.setVisible(bool(self.state.recent))
        self.recent_list.clear()
        for config in self.state.recent:
            item = QListWidgetItem(describe_source(config))
            item.setData(Qt.ItemDataRole.UserRole, config)
            self.recent_list.addItem(item)
        # As tall as four entries at most; more scroll.
        rows = min(self.recent_list.count(), RECENT_ROWS_SHOWN)
        frame = 2 * self.recent_list.frameWidth()
        self.recent_list.setFixedHeight(
            rows * self.recent_list.sizeHintForRow(0) + frame if rows else 0
        )

    def _on_model_preview(self) -> None:
        state = self.state
        preview = state.preview
        loaded = preview is not None and preview.info is not None
        self.ok_button.setEnabled(loaded)
        self.download_button.setEnabled(
            not loaded and not state.loading
        )  # shown for downloads only
        self.preview_grid.set_images(preview.images if loaded else None, columns=PREVIEW_COLUMNS)
        if state.problem:
            self.summary_label.setText(state.problem)
        elif state.loading:
            self.summary_label.setText("Loading…")
        elif preview is not None:
            self.summary_label.setText(preview.describe())
        else:
            self.summary_label.setText("Choose a file or folder")
        self.preview_grid.set_placeholder(
            "A few of the images appear here" if not state.loading else "Loading…"
        )
        self._show_download(state.download)

    def _show_download(self, download: tuple[int, int] | None) -> None:
        if download is None:
            if self._progress_dialog is not None:
                self._progress_dialog.hide()
            return
        if self._progress_dialog is None:
            dialog = named(QProgressDialog(self), "dataDownloadDialog", "Download progress")
            dialog.setWindowTitle("Downloading data")
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.setWindowModality(Qt.WindowModality.WindowModal)
            dialog.canceled.connect(self.sources.cancel_download)
            self._progress_dialog = dialog
        done, total = download
        config = self.state.config
        self._progress_dialog.setLabelText(
            f"Downloading {config.dataset} into {source_folder(config.dataset, config)}\n"
            f"{done / 1e6:.1f} of {total / 1e6:.1f} MB"
        )
        self._progress_dialog.setRange(0, 100)
        self._progress_dialog.setValue(100 * done // total if total else 0)
        self._progress_dialog.show()
