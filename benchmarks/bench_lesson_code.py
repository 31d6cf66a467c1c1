"""Restoring a lesson code (target < 2 s): for each shipped lesson, the time from a code pasted in
File > Open Lesson Code… to the lesson open at its step with its settings, locks, hidden controls
and view (read on a worker, set up on the GUI thread), median over its rounds, each round at
another of its steps. The window is offscreen, with no model on show; nothing is downloaded.

Prints, and writes benchmarks/results/lesson_code.json.
Run: .venv/bin/python benchmarks/bench_lesson_code.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import write_results  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.lessons.lesson_code import lesson_code  # noqa: E402
from app.lessons.lessons import shipped_lessons  # noqa: E402
from app.main_window import MainWindow  # noqa: E402

TIMEOUT_S = 30.0
TARGET_S = 2.0


def restore_seconds(window: MainWindow, code: str) -> float:
    """Seconds from `code` handed to the window to its set-up restored, the event loop running."""
    codes = window.seed.lessons.codes
    loop, heard = QEventLoop(), []

    def restored(_title: str) -> None:
        heard.append(True)
        loop.quit()

    codes.codeRestored.connect(restored)
    window.errorShown.connect(loop.quit)
    QTimer.singleShot(int(TIMEOUT_S * 1000), loop.quit)
    started = time.perf_counter()
    codes.open_code(code)
    if not heard:
        loop.exec()
    seconds = time.perf_counter() - started
    codes.codeRestored.disconnect(restored)
    window.errorShown.disconnect(loop.quit)
    if not heard:
        raise SystemExit("the code was not restored (an error, or no answer in time)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    application = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    application.processEvents()
    lessons = shipped_lessons()
    figures = {}
    for lesson in lessons:
        times = []
        for round_ in range(arguments.rounds):
            step = round_ % len(lesson.steps)
            config = lesson.steps[step].config or lesson.config
            code = lesson_code(lesson, step, lesson.steps[step].tab, config)
            times.append(restore_seconds(window, code))
        figures[lesson.title] = {
            "median_s": statistics.median(times),
            "max_s": max(times),
            "rounds": len(times),
        }
        print(f"{lesson.title[:48]:<48} median {statistics.median(times) * 1000:7.1f} ms")
    worst = max(figure["median_s"] for figure in figures.values())
    print(f"slowest lesson's median {worst * 1000:.1f} ms (target < {TARGET_S:.0f} s)")
    window.close()
    write_results(
        "lesson_code",
        {"target_s": TARGET_S, "slowest_median_s": worst, "lessons": figures},
    )


if __name__ == "__main__":
    main()
