"""The README's screenshot of File > Share Lesson…: resources/readme/share_lesson.png.

The real window, offscreen: lesson 5 (β-VAE) opened from the shipped lessons, its first step's
run trained (1,500 steps on the built-in glyphs, under a minute on a CPU), then Share Lesson; the
dialog is drawn over the window where a window manager would centre it.

    .venv/bin/python scripts/screenshot_lessons.py [--out resources/readme]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QPoint, QSettings, QTimer  # noqa: E402
from PySide6.QtGui import QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.lessons.lessons import shipped_lessons  # noqa: E402
from app.main_window import MainWindow  # noqa: E402

TIMEOUT_MS = 300_000


def wait_for(signal, action) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(TIMEOUT_MS, loop.quit)
    action()
    loop.exec()
    signal.disconnect(loop.quit)


def settle(milliseconds: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(milliseconds, loop.quit)
    loop.exec()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "readme")
    arguments = parser.parse_args()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    os.environ["VAE_STUDIO_RUNS_DIR"] = tempfile.mkdtemp()
    application = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow()
    window.resize(1500, 940)
    window.show()
    lesson = next(lesson for lesson in shipped_lessons() if lesson.title.startswith("5."))
    wait_for(window.runs.runEnded, lambda: window.seed.lessons.start(lesson))
    settle(1500)
    codes = window.seed.lessons.codes
    wait_for(codes.codeShown, window.named_actions["shareLessonAction"].trigger)
    settle(300)
    picture = window.grab()
    dialog = codes.dialog.grab()
    painter = QPainter(picture)
    painter.drawPixmap(
        QPoint((picture.width() - dialog.width()) // 2, (picture.height() - dialog.height()) // 2),
        dialog,
    )
    painter.end()
    path = arguments.out / "share_lesson.png"
    if not picture.save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")
    window.close()
    application.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
