"""A Qt timer calling Python for seconds: what the window does all the time while it trains.

PySide6 6.12.0 on Python 3.11 crashes in exactly this (so pyproject.toml pins PySide6 below 6.12
there): with a bad version installed this test fails, or takes the test run down with it.
"""

import sys
import time

import PySide6
from PySide6.QtCore import QTimer


def test_the_installed_pyside6_respects_the_pin_for_this_python():
    if sys.version_info[:2] == (3, 11):
        assert PySide6.__version_info__[:2] < (6, 12), PySide6.__version__


def test_a_timer_calling_python_for_three_seconds_keeps_running(qtbot):
    ticks = []
    ticking = QTimer()
    ticking.setInterval(1)
    ticking.timeout.connect(lambda: ticks.append(time.perf_counter()))
    finished = QTimer()
    finished.setSingleShot(True)
    finished.setInterval(3000)
    with qtbot.waitSignal(finished.timeout, timeout=15_000):
        ticking.start()
        finished.start()
    ticking.stop()
    assert len(ticks) > 300
    assert ticks[-1] - ticks[0] > 2.5
