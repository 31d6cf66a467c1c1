"""What the window tells the user: problems in a non-modal message box and the status line, and
download progress in a non-modal dialog. The window stays usable throughout."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QMainWindow, QMessageBox, QProgressDialog

from app.naming import named


class Messages:
    def __init__(self, window: QMainWindow, cancel_download: Callable[[], None]):
        self.window = window
        self._cancel_download = cancel_download
        self._error_box: QMessageBox | None = None
        self.download_dialog: QProgressDialog | None = None

    def show_error(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 15000)
        if self._error_box is None:
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "VAE Studio",
                "",
                QMessageBox.StandardButton.Ok,
                self.window,
            )
            self._error_box = named(box, "errorMessage", "Error message")
            self._error_box.setWindowModality(Qt.WindowModality.NonModal)
        self._error_box.setText(message)
        self._error_box.show()

    @Slot(int, int)
    def show_download_progress(self, done: int, total: int) -> None:
        expected = f" of {total / 1e6:.1f} MB" if total else ""
        self.window.statusBar().showMessage(
            f"Downloading data: {done / 1e6:.1f} MB{expected}", 5000
        )
        if self.download_dialog is None:
            dialog = named(QProgressDialog(self.window), "downloadDialog", "Download progress")
            dialog.setWindowTitle("Downloading data")
            dialog.canceled.connect(self._cancel_download)
            dialog.setAutoClose(False)
            dialog.setAutoReset(False)
            dialog.setWindowModality(Qt.WindowModality.NonModal)
            self.download_dialog = dialog
        dialog = self.download_dialog
        dialog.setLabelText(
            f"{self.window.controls.data_config().dataset}: {done / 1e6:.1f} MB{expected}"
        )
        dialog.setRange(0, 100 if total else 0)
        dialog.setValue(100 * done // total if total else 0)
        dialog.show()

    def hide_download_progress(self) -> None:
        if self.download_dialog is not None:
            self.download_dialog.hide()

    def show_about(self) -> None:
        QMessageBox.about(
            self.window,
            "About VAE Studio",
            "VAE Studio trains and explores variational autoencoders.\n"
            "Press Train, watch the curves and the latent map; F11 presents.",
        )
