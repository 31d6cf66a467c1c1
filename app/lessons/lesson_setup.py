"""The user's set-up around a lesson: taken when a lesson opens and put back exactly on Leave (the
settings, the map's and the theory row's controls, the view on show, the map's region), and the
map's controls as a fresh window has them, which every lesson starts from."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from app.lessons.lesson_host import LessonWindow, MapRegion
from app.lessons.lesson_window import control_value, set_control
from vae_core.config import RunConfig
from vae_core.errors import VaeStudioError

ControlValues = dict[QWidget, bool | int | float | str]


def control_values(window: LessonWindow) -> ControlValues:
    """The map's layer boxes and the theory row's controls, with their values now."""
    return {widget: control_value(widget) for widget in window.map_controls()}


def set_controls(values: ControlValues) -> None:
    for widget, value in values.items():
        set_control(widget, value)


@dataclass(frozen=True)
class UserSetup:
    # None while the settings were half typed: Leave then leaves the lesson's settings on show.
    config: RunConfig | None
    controls: ControlValues
    view: str
    region: MapRegion


def take_setup(window: LessonWindow) -> UserSetup:
    try:
        config = window.config()
    except VaeStudioError:
        config = None
    return UserSetup(config, control_values(window), window.current_view(), window.map_region())


def restore_setup(window: LessonWindow, setup: UserSetup) -> None:
    if setup.config is not None:
        window.apply_config(setup.config)
    set_controls(setup.controls)
    window.show_view(setup.view)
    window.set_map_region(setup.region)
