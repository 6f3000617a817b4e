"""The Outputs panel and menu: Spout, Syphon, NDI, virtual camera and recording, switched live.

One row per output: a switch, its state (off / starting / running / stalled / failed), frames
sent and dropped, and why it cannot work here when it cannot (the same words as ``sfe-live
doctor``; the full text in the tooltip). The panel never calls the core from a worker: the window
pulls ``App.outputs_view()`` on its slow timer and hands the rows to :meth:`OutputsPanel.show_rows`;
a click emits :attr:`OutputsPanel.toggled` ``(key, on)`` and the window switches the output.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QFrame, QGridLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from .theme import set_state

STATE_LOOK = {"running": "ok", "starting": "warn", "stalled": "warn", "failed": "bad", "off": ""}


class _Row:
    def __init__(self, grid: QGridLayout, row: int, key: str, label: str, on_toggle: Any) -> None:
        self.key = key
        self.switch = QCheckBox(label)
        self.switch.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.switch.toggled.connect(lambda on: on_toggle(key, on))
        self.state = QLabel("off")
        self.state.setProperty("role", "badge")
        self.counts = QLabel("sent 0 · dropped 0")
        self.counts.setProperty("role", "value")
        self.reason = QLabel("")
        self.reason.setProperty("role", "caption")
        self.reason.setWordWrap(True)
        grid.addWidget(self.switch, 2 * row, 0)
        grid.addWidget(self.state, 2 * row, 1)
        grid.addWidget(self.counts, 2 * row, 2)
        grid.addWidget(self.reason, 2 * row + 1, 0, 1, 3)


class OutputsPanel(QFrame):
    """Rows of outputs; ``toggled(key, on)`` when the performer flips one."""

    toggled = Signal(str, bool)
    recheck = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "panel")
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(12, 10, 12, 12)
        head = QLabel("OUTPUTS · sent to other programs, the network and disk")
        head.setProperty("role", "heading")
        self._lay.addWidget(head)
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(10)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(2, 1)
        self._lay.addLayout(self._grid)
        self._lay.addStretch(1)
        self.recheck_button = QPushButton("Check again")
        self.recheck_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.recheck_button.setToolTip("Ask every output again whether it can work (after installing an extra)")
        self.recheck_button.clicked.connect(self.recheck.emit)
        self._lay.addWidget(self.recheck_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.rows: dict[str, _Row] = {}
        self.menu: Optional[QMenu] = None
        self.actions: dict[str, QAction] = {}

    def attach_menu(self, menu: QMenu) -> None:
        """Mirror the switches as checkable actions in ``menu`` (filled by :meth:`show_rows`)."""
        self.menu = menu

    def _emit(self, key: str, on: bool) -> None:
        self.toggled.emit(key, on)

    def _ensure(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for r in rows:
            key = str(r["key"])
            if key in self.rows:
                continue
            self.rows[key] = _Row(self._grid, len(self.rows), key, str(r["label"]), self._emit)
            if self.menu is not None:
                act = self.menu.addAction(str(r["label"]))
                act.setCheckable(True)
                act.toggled.connect(lambda on, k=key: self._from_menu(k, on))
                self.actions[key] = act

    def _from_menu(self, key: str, on: bool) -> None:
        row = self.rows[key]
        if row.switch.isChecked() != on:
            row.switch.setChecked(on)  # emits toggled once, through the row

    def show_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Mirror ``App.outputs_view()`` without emitting anything back."""
        self._ensure(rows)
        for r in rows:
            row = self.rows[str(r["key"])]
            on = bool(r["on"])
            for w in (row.switch, self.actions.get(row.key)):
                if w is not None and w.isChecked() != on:
                    w.blockSignals(True)
                    w.setChecked(on)
                    w.blockSignals(False)
            state = str(r["state"])
            row.state.setText(state.upper())
            set_state(row.state, STATE_LOOK.get(state, ""))
            row.counts.setText(f"sent {int(r['sent'])} · dropped {int(r['dropped'])}")
            reason, error = str(r["reason"]), str(r["error"])
            if error:
                text = error
            elif not r["available"]:
                text = reason
            else:
                text = str(r["detail"]) or reason
            row.reason.setText(text.splitlines()[0] if text else "")
            row.reason.setToolTip(error or reason)
            usable = bool(r["available"]) or on  # an absent output cannot be switched on ("Check again")
            row.switch.setEnabled(usable)
            if row.key in self.actions:
                self.actions[row.key].setEnabled(usable)
            row.switch.setToolTip(reason)
            set_state(row.reason, "bad" if r["error"] else ("" if r["available"] else "warn"))
