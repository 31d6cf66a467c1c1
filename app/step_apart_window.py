"""The step taken apart in the window: its controller, its buttons beside the run's Step, its
row above the latent map and its layer on the map, composed (app/controllers/step_apart.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.controllers.step_apart import StepApartController
from app.explorer.step_apart_layer import StepApartLayer
from app.explorer.step_apart_row import StepApartButtons, StepApartRow

if TYPE_CHECKING:
    from app.main_window import MainWindow


@dataclass(frozen=True)
class StepApart:
    controller: StepApartController
    buttons: StepApartButtons
    row: StepApartRow
    layer: StepApartLayer


def build_step_apart(window: MainWindow) -> StepApart:
    controller = StepApartController(
        window.state, window.runs, window.train, window.resume_from, window
    )
    state = controller.state
    buttons = StepApartButtons(state, window)
    run_actions = window.run_actions
    toolbar = run_actions.toolbar
    before_stop = next(
        action
        for action in toolbar.actions()
        if toolbar.widgetForAction(action) is run_actions.stop_button
    )
    toolbar.insertWidget(before_stop, buttons.mode_button)
    buttons.phase_action = toolbar.insertWidget(before_stop, buttons.phase_button)
    buttons.redraw()
    buttons.activeRequested.connect(controller.set_active)
    buttons.phaseRequested.connect(controller.take_phase)
    explorer = window.explorer
    row = StepApartRow(state)
    explorer.map.add_control_row(row)
    layer = StepApartLayer(explorer.map.plot, state, window.state.shown.explorer)
    # Why the model on show cannot take a step apart, in the status bar as it comes on show.
    state.events.refusal.connect(lambda refusal: refusal and window.say(refusal))
    return StepApart(controller, buttons, row, layer)
