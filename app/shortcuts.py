"""The window's shortcuts win over the widget that has the focus.

Before Qt fires a shortcut it asks the focused widget (a ShortcutOverride event) whether it wants
the key as typing, and line edits, spin boxes included, say yes to more than text: Ctrl+E (move to
the end of the line, on Linux), Ctrl+A, Space and letters. So with the focus in the β box, Ctrl+E
exported nothing and Space paused nothing. This filter answers for those widgets: a key that an
enabled window action is bound to goes to the action, unless it is text the widget takes (a plain
key in a line edit; a spin box takes only numbers, none of which is a shortcut here).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QMainWindow, QWidget

_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)


class ShortcutsOverEditors(QObject):
    """Filters the ShortcutOverride events of the window's line edits and spin boxes."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.watch(window)

    def watch(self, root: QWidget) -> None:
        """Watch the editors under `root` (call again for editors built later, in a dialog say)."""
        for kind in (QAbstractSpinBox, QLineEdit):
            for editor in root.findChildren(kind):
                if not isinstance(editor.parent(), QAbstractSpinBox):  # its spin box has the focus
                    editor.installEventFilter(self)

    def _bound_to_an_action(self, keys: QKeySequence) -> bool:
        return any(
            action.isEnabled() and keys in action.shortcuts() for action in self.window.actions()
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride:
            return False
        keys = QKeySequence(event.keyCombination())
        is_text = not (event.modifiers() & _COMMAND_MODIFIERS) and isinstance(watched, QLineEdit)
        if is_text or not self._bound_to_an_action(keys):
            return False
        # Not accepted, and kept from the editor: Qt goes on to fire the shortcut.
        event.ignore()
        return True
