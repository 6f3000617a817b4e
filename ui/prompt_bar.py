"""The prompt bar: type, choose the transition, Enter sends it for the next block.

Up / Down in the text field walk the history (like a shell); the clock button lists recent
prompts. The line above the field shows the prompt on air (from the engine's status).
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QMenu, QPushButton,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from sfe_live.engine.commands import TRANSITIONS

log = logging.getLogger(__name__)


class PromptHistory:
    """Most recent last, no consecutive duplicates, bounded; a cursor for Up/Down recall."""

    def __init__(self, items: Optional[list[str]] = None, maxlen: int = 100) -> None:
        self.maxlen = maxlen
        self.items: list[str] = [s for s in (items or []) if s.strip()][-maxlen:]
        self._cursor: Optional[int] = None
        self._draft = ""

    def add(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if text in self.items:
            self.items.remove(text)
        self.items.append(text)
        del self.items[:-self.maxlen]
        self._cursor = None

    def older(self, current: str) -> Optional[str]:
        if not self.items:
            return None
        if self._cursor is None:
            self._draft = current
            self._cursor = len(self.items)
        self._cursor = max(0, self._cursor - 1)
        return self.items[self._cursor]

    def newer(self) -> Optional[str]:
        if self._cursor is None:
            return None
        self._cursor += 1
        if self._cursor >= len(self.items):
            self._cursor = None
            return self._draft
        return self.items[self._cursor]


class HistoryLineEdit(QLineEdit):
    """A QLineEdit whose Up/Down keys walk a :class:`PromptHistory`."""

    def __init__(self, history: PromptHistory, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.history = history

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt name
        if event.key() == Qt.Key.Key_Up and not event.modifiers():
            text = self.history.older(self.text())
            if text is not None:
                self.setText(text)
            return
        if event.key() == Qt.Key.Key_Down and not event.modifiers():
            text = self.history.newer()
            if text is not None:
                self.setText(text)
            return
        super().keyPressEvent(event)


class PromptBar(QFrame):
    """Emits ``submitted(text, transition, blend_blocks)`` on Enter or Send; ``transition_changed`` and
    ``blend_changed`` when the performer changes them here (the window makes them live at once)."""

    submitted = Signal(str, str, int)
    transition_changed = Signal(str)
    blend_changed = Signal(int)

    def __init__(self, history: Optional[list[str]] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "panel")
        self.history = PromptHistory(history)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 10)
        outer.setSpacing(6)

        top = QHBoxLayout()
        cap = QLabel("PROMPT")
        cap.setProperty("role", "heading")
        self.on_air = QLabel("")
        self.on_air.setProperty("role", "caption")
        self.on_air.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(cap)
        top.addSpacing(8)
        top.addWidget(self.on_air, 1)
        outer.addLayout(top)

        row = QHBoxLayout()
        row.setSpacing(6)
        self.edit = HistoryLineEdit(self.history)
        self.edit.setObjectName("prompt")
        self.edit.setPlaceholderText("Type a prompt — Enter sends it for the next block  (↑/↓ history)")
        self.edit.returnPressed.connect(self._send)
        self.history_button = QToolButton()
        self.history_button.setText("History")
        self.history_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.history_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.history_menu = QMenu(self.history_button)
        self.history_menu.aboutToShow.connect(self._fill_history_menu)
        self.history_button.setMenu(self.history_menu)
        self.transition = QComboBox()
        self.transition.addItems(list(TRANSITIONS))
        self.transition.setToolTip("How the next prompt takes over: cut (keep memory), purge (clear the "
                                   "cache at the reactivity strength), blend over N blocks, re-cache")
        self.transition.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.transition.currentTextChanged.connect(self._transition_changed)
        self.blend = QSpinBox()
        self.blend.setRange(1, 16)
        self.blend.setValue(4)
        self.blend.setSuffix(" blk")
        self.blend.setToolTip("Blocks a blend takes")
        self.blend.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.blend.valueChanged.connect(self.blend_changed.emit)
        self.send_button = QPushButton("Send ⏎")
        self.send_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.send_button.clicked.connect(self._send)
        row.addWidget(self.edit, 1)
        row.addWidget(self.history_button)
        row.addWidget(self.transition)
        row.addWidget(self.blend)
        row.addWidget(self.send_button)
        outer.addLayout(row)
        self._transition_changed(self.transition.currentText())

    # ------------------------------------------------------------------ state
    def set_transition(self, name: str, blend_blocks: Optional[int] = None) -> None:
        if name in TRANSITIONS:
            self.transition.setCurrentText(name)
        if blend_blocks is not None:
            self.blend.setValue(int(blend_blocks))

    def sync(self, transition: object, blend_blocks: object) -> None:
        """Show the live transition (set by keys, OSC, MIDI or a cue) without sending it back."""
        for w in (self.transition, self.blend):
            w.blockSignals(True)
        try:
            if isinstance(transition, str) and transition in TRANSITIONS \
                    and transition != self.transition.currentText():
                self.transition.setCurrentText(transition)
                self.blend.setEnabled(transition == "blend")
            if isinstance(blend_blocks, int) and not self.blend.hasFocus() and blend_blocks != self.blend.value():
                self.blend.setValue(blend_blocks)
        finally:
            for w in (self.transition, self.blend):
                w.blockSignals(False)

    def set_on_air(self, prompt: str, blending: bool = False) -> None:
        text = f"on air{' (blending)' if blending else ''}: {prompt}" if prompt else ""
        if self.on_air.text() != text:
            self.on_air.setText(text)

    def _transition_changed(self, name: str) -> None:
        self.blend.setEnabled(name == "blend")
        self.transition_changed.emit(name)

    def _fill_history_menu(self) -> None:
        self.history_menu.clear()
        if not self.history.items:
            a = QAction("(no prompts yet)", self.history_menu)
            a.setEnabled(False)
            self.history_menu.addAction(a)
            return
        for text in reversed(self.history.items[-20:]):
            label = text if len(text) <= 80 else text[:77] + "…"
            a = QAction(label, self.history_menu)
            a.triggered.connect(lambda _=False, t=text: self.recall(t))
            self.history_menu.addAction(a)

    def recall(self, text: str) -> None:
        self.edit.setText(text)
        self.edit.setFocus()

    def _send(self) -> None:
        text = self.edit.text().strip()
        if not text:
            return
        self.history.add(text)
        self.submitted.emit(text, self.transition.currentText(), self.blend.value())
        self.edit.clear()
