"""Undo and redo for the settings panel (Edit > Undo, Ctrl+Z; Redo, Ctrl+Shift+Z).

The panel's values are published into a Qt-free `SettingsState`; each change of it that the user
made becomes one entry of a QUndoStack. One user change is one entry: what changes within one turn
of the event loop (a preset, Reset to defaults, an opened checkpoint's settings) is one entry, a
drag of the β slider is one, and so is typing into one box while it keeps the focus. Undo and
redo write the values back through the panel's widgets, exactly as the user setting them would:
β reaches a running run at once; the settings a run has fixed apply to the next one.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit

from app.controls import ControlPanel
from app.settings_fields import change_signals, panel_fields
from app.state.settings import SettingsState

_SETTINGS_CHANGE = 1  # the id QUndoStack merges commands by
TEXT_ENTRIES = (QAbstractSpinBox, QLineEdit)


class SettingsChange(QUndoCommand):
    """The values of some settings before and after one user change."""

    def __init__(self, owner: SettingsUndo, before: Mapping, after: Mapping, coalesce_key):
        super().__init__()
        self.owner = owner
        self.before, self.after = dict(before), dict(after)
        self.coalesce_key = coalesce_key
        self._applied = True  # pushed after the change happened: the first redo has nothing to do
        self._name()

    def _name(self) -> None:
        changed = [name for name in self.after if self.after[name] != self.before.get(name)]
        labels = [self.owner.fields[name].label for name in changed if name in self.owner.fields]
        self.setText(labels[0] if len(labels) == 1 else f"{len(labels)} settings")

    def id(self) -> int:
        return _SETTINGS_CHANGE

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SettingsChange) or other.coalesce_key != self.coalesce_key:
            return False
        self.after = other.after
        self._name()
        self.setObsolete(self.after == self.before)  # a drag back to where it began
        return True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.owner.put_back(self.after)

    def undo(self) -> None:
        self.owner.put_back(self.before)


class SettingsUndo(QObject):
    """The settings' undo stack, fed from the settings state's events."""

    def __init__(self, panel: ControlPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        self.fields = panel_fields(panel)
        self.state = SettingsState(self._read())
        self.stack = QUndoStack(self)
        self._putting_back = False
        self._turn = 0  # numbers the event-loop turns with changes
        self._turn_open = False
        self._drag = 0  # numbers the β slider's drags
        self._edit_actions: tuple[QAction, QAction] | None = None
        panel.beta_slider.sliderPressed.connect(self._drag_started)
        for signal in change_signals(panel):
            signal.connect(self._publish)
        self.state.events.values.connect(self._changed)

    def _read(self) -> dict[str, object]:
        return {name: field.read() for name, field in self.fields.items()}

    def _publish(self, *_) -> None:
        self.state.values = self._read()  # an event only where a value differs

    def _drag_started(self) -> None:
        self._drag += 1

    def _changed(self, after: Mapping, before: Mapping) -> None:
        if self._putting_back:
            return
        self.stack.push(SettingsChange(self, before, after, self._coalesce_key(before, after)))

    def _coalesce_key(self, before: Mapping, after: Mapping) -> tuple:
        """What makes this change part of the entry before it: one drag of the β slider, the
        same turn of the event loop (a preset sets many fields), or typing into the box that
        keeps the focus."""
        changed = {name for name in after if after[name] != before.get(name)}
        if self.panel.beta_slider.isSliderDown() and changed == {"beta"}:
            return ("drag", self._drag)
        if self._turn_open:
            return ("turn", self._turn)
        if len(changed) == 1:
            widget = self.fields[next(iter(changed))].widget
            if isinstance(widget, TEXT_ENTRIES) and widget.hasFocus():
                return ("typing", next(iter(changed)))
        self._turn += 1
        self._turn_open = True
        QTimer.singleShot(0, self, self._close_turn)
        return ("turn", self._turn)

    def _close_turn(self) -> None:
        self._turn_open = False

    def put_back(self, values: Mapping) -> None:
        """Write `values` into the panel's widgets, field by field, as the user would."""
        self._putting_back = True
        try:
            for name, field in self.fields.items():
                if name in values and field.read() != values[name]:
                    field.write(values[name])
            self._publish()
        finally:
            self._putting_back = False
        self._turn_open = False  # the next change is an entry of its own

    def start_afresh(self) -> None:
        """The values shown now are where undo stops (the window's restored settings, say)."""
        self._publish()
        self.stack.clear()

    def undo(self) -> None:
        self.stack.undo()

    def redo(self) -> None:
        self.stack.redo()

    def steer(self, undo_action: QAction, redo_action: QAction) -> None:
        """Keep the Edit menu's actions enabled, and their tips naming the change, as the stack
        allows."""
        self._edit_actions = (undo_action, redo_action)
        for action, can in (
            (undo_action, self.stack.canUndoChanged),
            (redo_action, self.stack.canRedoChanged),
        ):
            action.setEnabled(False)
            can.connect(action.setEnabled)
        self.stack.undoTextChanged.connect(self._name_undo)
        self.stack.redoTextChanged.connect(self._name_redo)

    def _name_undo(self, what: str) -> None:
        self._edit_actions[0].setStatusTip(f"Undo {what}" if what else "")

    def _name_redo(self, what: str) -> None:
        self._edit_actions[1].setStatusTip(f"Redo {what}" if what else "")
