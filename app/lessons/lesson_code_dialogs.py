"""The two dialogs of a lesson code: Share Lesson (the code, a Copy button, its QR image large
enough to scan from the back of a classroom) and Open Lesson Code (a box to paste one in, or a
text file to open). They show and ask; the lessons' controller reads, writes and restores."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.naming import named

# A QR image at least this many pixels a side, each module a whole number of pixels (crisp): on a
# projector it is a third of the screen's height or more, which phones read from across a room.
QR_LEAST_PIXELS = 420


def qr_pixmap(pixels: np.ndarray) -> QPixmap:
    """The QR image's pixels (H, W) uint8, scaled up by a whole factor to QR_LEAST_PIXELS or more."""
    height, width = pixels.shape
    image = QImage(pixels.tobytes(), width, height, width, QImage.Format.Format_Grayscale8)
    factor = -(-QR_LEAST_PIXELS // width)  # rounded up
    return QPixmap.fromImage(image.copy()).scaled(
        width * factor, height * factor, mode=Qt.TransformationMode.FastTransformation
    )


def _code_box(name: str, accessible: str) -> QPlainTextEdit:
    box = named(QPlainTextEdit(), name, accessible)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    box.setWordWrapMode(box.wordWrapMode().WrapAnywhere)
    box.setFixedHeight(box.fontMetrics().lineSpacing() * 4 + 12)
    return box


class ShareLessonDialog(QDialog):
    """A lesson's code: `about` says what it carries; Copy puts the code on the clipboard; Save
    asks the controller to write it to a text file (`saveRequested`)."""

    saveRequested = Signal(str)  # the code

    def __init__(self, code: str, qr_pixels: np.ndarray, about: str, parent: QWidget | None):
        super().__init__(parent)
        named(self, "shareLessonDialog", "Share lesson")
        self.setWindowTitle("Share Lesson")
        self.code = code
        self.about = named(QLabel(about), "lessonCodeAbout", "What the code carries")
        self.about.setWordWrap(True)
        self.code_edit = _code_box("lessonCodeEdit", "Lesson code")
        self.code_edit.setPlainText(code)
        self.code_edit.setReadOnly(True)
        self.qr_view = named(QLabel(), "lessonQrView", "Lesson code as a QR image")
        self.qr_view.setPixmap(qr_pixmap(qr_pixels))
        self.qr_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.copy_button = named(QPushButton("Copy"), "copyLessonCodeButton", "Copy the code")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = named(
            QPushButton("Save as Text…"), "saveLessonCodeButton", "Save the code as a text file"
        )
        self.save_button.clicked.connect(self._save_requested)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addWidget(self.save_button)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.about)
        layout.addWidget(self.code_edit)
        layout.addLayout(row)
        layout.addWidget(self.qr_view, 1)
        hint = QLabel("Paste it in File > Open Lesson Code…, or scan the image and paste its text.")
        hint.setWordWrap(True)
        layout.addWidget(hint)

    def _save_requested(self) -> None:
        self.saveRequested.emit(self.code)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code)
        self.copy_button.setText("Copied")


class OpenLessonCodeDialog(QDialog):
    """A box to paste a code in (`codeEntered` on Open) or a text file to open instead
    (`fileRequested`)."""

    codeEntered = Signal(str)
    fileRequested = Signal()

    def __init__(self, parent: QWidget | None):
        super().__init__(parent)
        named(self, "openLessonCodeDialog", "Open lesson code")
        self.setWindowTitle("Open Lesson Code")
        prompt = QLabel(
            "Paste the code your teacher shared (it starts with VAE1.): the window is set up as "
            "theirs, with no network needed."
        )
        prompt.setWordWrap(True)
        self.code_input = _code_box("lessonCodeInput", "Lesson code to open")
        self.code_input.setPlaceholderText("VAE1.…")
        file_button = named(
            QPushButton("Open Text File…"), "lessonCodeFileButton", "Open a text file with a code"
        )
        file_button.clicked.connect(self._file_requested)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setEnabled(False)
        self.code_input.textChanged.connect(self._text_changed)
        buttons.accepted.connect(self._entered)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(file_button)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.code_input)
        layout.addLayout(row)
        self.resize(560, self.sizeHint().height())

    def _text_changed(self) -> None:
        self.open_button.setEnabled(bool(self.code_input.toPlainText().strip()))

    def _entered(self) -> None:
        self.accept()
        self.codeEntered.emit(self.code_input.toPlainText())

    def _file_requested(self) -> None:
        self.accept()
        self.fileRequested.emit()
