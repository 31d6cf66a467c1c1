"""What the command line shows on a terminal while it works: a training run's progress bar, a
download's and an evaluation's, each one line redrawn in place on stderr. All are silent when
stderr is not a terminal (a log file, a scheduler's capture)."""

from __future__ import annotations

import sys
import time

from vae_core.training.trainer import TrainingSnapshot


class ProgressBar:
    """A one-line bar on a terminal; silent when stderr is not one."""

    def __init__(self, stream=None, enabled: bool = True):
        # stderr as it is now, not as it was when this module was imported (a test's capture).
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()

    def update(self, snapshot: TrainingSnapshot) -> None:
        if not self.enabled:
            return
        done = snapshot.step / max(1, snapshot.total_steps)
        filled = int(30 * done)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {done:4.0%} step {snapshot.step:,}/{snapshot.total_steps:,}"
            f" epoch {snapshot.epoch + 1} loss {snapshot.loss:8.2f} kl {snapshot.kl:6.2f}"
            f" {snapshot.images_per_s:,.0f} img/s "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


class DownloadBar:
    """The progress of a data set's download on a terminal; silent when stderr is not one."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = done * 100 // total
        if percent == self.shown:
            return
        self.shown = percent
        end = "\n" if done >= total else ""
        self.stream.write(
            f"\rdownloading [{'#' * (percent * 30 // 100):.<30}] {percent:3d}% {done / 1e6:.1f}/{total / 1e6:.1f} MB{end}"
        )
        self.stream.flush()


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class EvaluationBar:
    """Examples done, time taken and time left; redrawn at most a few times a second."""

    redraw_interval_s = 0.25

    def __init__(self, label: str, stream=None, enabled: bool = True):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn_at = -float("inf")

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if (
            not self.enabled
            or total <= 0
            or (now - self._drawn_at < self.redraw_interval_s and done < total)
        ):
            return
        self._drawn_at = now
        share = done / total
        elapsed = now - self.started
        left = elapsed * (1 - share) / share if share > 0 else 0.0
        self.stream.write(
            f"\r{self.label} [{'#' * int(30 * share):.<30}] {share:4.0%} {done:,}/{total:,} examples,"
            f" {_duration(elapsed)} taken, {_duration(left)} left "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
