"""The mapping window: learn, edit and monitor every binding (MIDI, OSC, keys, audio) without a file.

Learn as in Resolume: pick an action (or right-click a control in the window → Learn), press
**Learn**, then move a knob, hit a pad, send an OSC address or press a key — the binding is made and
live at once. The bindings table lists every binding with its origin (controller profiles are
read-only) and marks conflicts (one input driving two actions); **Remove** deletes the selected one.
**Save** writes ``bindings.toml`` atomically (the window also saves on quit). The monitors show the
MIDI messages and OSC addresses arriving now. Everything is pulled from the control hub on a timer:
no input thread ever calls into Qt.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from sfe_live.controls.mapping import (AUDIO_FEATURES, BindingRow, add_audio_binding, binding_rows, conflicts,
                                       remove_binding)

from . import theme
from .keymap import key_name

log = logging.getLogger(__name__)

COLUMNS = ("Input", "Action", "Value", "From")


class MappingDialog(QDialog):
    def __init__(self, hub: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self.setWindowTitle("Mapping — MIDI · OSC · keys · audio")
        self.resize(980, 620)
        self.rows: list[BindingRow] = []
        self._shown_signature: tuple = ()
        self.learning: Optional[str] = None

        # -- actions (left)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter actions…")
        self.filter.textChanged.connect(self._fill_actions)
        self.actions = QListWidget()
        self.actions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.value = QLineEdit()
        self.value.setPlaceholderText("fixed value (optional: cue number, strength…)")
        self.learn_button = QPushButton("Learn")
        self.learn_button.setObjectName("go")
        self.learn_button.clicked.connect(self.toggle_learn)
        self.learn_state = QLabel("Pick an action, press Learn, then move a control, send OSC or press a key.")
        self.learn_state.setWordWrap(True)
        self.learn_state.setProperty("role", "caption")
        self.audio_feature = QComboBox()
        self.audio_feature.addItems(list(AUDIO_FEATURES))
        self.audio_add = QPushButton("Bind audio feature")
        self.audio_add.clicked.connect(self.bind_audio)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(_heading("ACTIONS"))
        ll.addWidget(self.filter)
        ll.addWidget(self.actions, 1)
        ll.addWidget(self.value)
        ll.addWidget(self.learn_button)
        ll.addWidget(self.learn_state)
        ar = QHBoxLayout()
        ar.addWidget(self.audio_feature)
        ar.addWidget(self.audio_add, 1)
        ll.addLayout(ar)

        # -- bindings (middle)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in (1, 2, 3):
            hh.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        self.conflict_label = QLabel("")
        self.conflict_label.setWordWrap(True)
        self.conflict_label.setStyleSheet(f"color: {theme.WARN};")
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        mid = QWidget()
        ml = QVBoxLayout(mid)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(_heading("BINDINGS"))
        ml.addWidget(self.table, 1)
        ml.addWidget(self.conflict_label)
        br = QHBoxLayout()
        br.addWidget(self.remove_button)
        br.addStretch(1)
        br.addWidget(self.save_button)
        ml.addLayout(br)

        # -- monitors (right)
        self.midi_monitor = QListWidget()
        self.osc_monitor = QListWidget()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(_heading("MIDI IN"))
        rl.addWidget(self.midi_monitor, 1)
        rl.addWidget(_heading("OSC IN"))
        rl.addWidget(self.osc_monitor, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        for w, stretch in ((left, 2), (mid, 4), (right, 3)):
            split.addWidget(w)
            split.setStretchFactor(split.count() - 1, stretch)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)

        self._fill_actions()
        self.refresh()
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # ------------------------------------------------------------------ actions and learn
    def _fill_actions(self) -> None:
        text = self.filter.text().strip().lower()
        current = self.selected_action()
        self.actions.clear()
        for spec in self.hub.router.registry:
            label = f"{spec.title}  ·  {spec.id}"
            if text and text not in label.lower():
                continue
            self.actions.addItem(label)
            item = self.actions.item(self.actions.count() - 1)
            item.setData(Qt.ItemDataRole.UserRole, spec.id)
            if spec.id == current:
                self.actions.setCurrentItem(item)

    def selected_action(self) -> Optional[str]:
        item = self.actions.currentItem() if hasattr(self, "actions") else None
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def select_action(self, action_id: str) -> bool:
        for i in range(self.actions.count()):
            if self.actions.item(i).data(Qt.ItemDataRole.UserRole) == action_id:
                self.actions.setCurrentRow(i)
                return True
        return False

    def _fixed_value(self) -> Any:
        text = self.value.text().strip()
        if not text:
            return None
        for cast in (int, float):
            try:
                return cast(text)
            except ValueError:
                pass
        return text

    def toggle_learn(self) -> None:
        if self.learning is not None:
            self.cancel_learn()
            return
        action = self.selected_action()
        if action is None:
            self.learn_state.setText("Pick an action first.")
            return
        self.learn(action, self._fixed_value())

    def learn(self, action_id: str, value: Any = None) -> None:
        """Arm learn for ``action_id``: the next MIDI control, OSC address or key is bound to it."""
        self.select_action(action_id)
        self.hub.learn(action_id, value)
        self.learning = action_id
        self.learn_button.setText("Cancel learn")
        self.learn_state.setText(f"Learning {action_id}: move a control, send an OSC address or press a key…")
        self.setFocus()

    def cancel_learn(self) -> None:
        self.hub.cancel_learn()
        self.learning = None
        self.learn_button.setText("Learn")
        self.learn_state.setText("Learn cancelled.")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt name
        """While learning, a key press here is the key to learn (Esc cancels)."""
        if self.learning is not None and not self.filter.hasFocus() and not self.value.hasFocus():
            if event.key() == Qt.Key.Key_Escape:
                self.cancel_learn()
                return
            name = key_name(event)
            if name is not None and not event.isAutoRepeat():
                self.hub.key(name, pressed=True)
                self.hub.key(name, pressed=False)
                self.refresh()
                return
        super().keyPressEvent(event)

    def bind_audio(self) -> None:
        action = self.selected_action()
        if action is None:
            self.learn_state.setText("Pick an action first.")
            return
        try:
            b = add_audio_binding(self.hub, self.audio_feature.currentText(), action, self._fixed_value())
        except Exception as exc:
            self.learn_state.setText(f"Not bound: {exc}")
            return
        self.learn_state.setText(f"bound {b.describe()} → {b.action}")
        self.refresh()

    # ------------------------------------------------------------------ bindings table
    def refresh(self) -> None:
        """Pull bindings, learn state and the monitors from the hub (the dialog's timer)."""
        if self.learning is not None and self.hub.learner.armed is None:
            made = self.hub.learner.last
            self.learning = None
            self.learn_button.setText("Learn")
            self.learn_state.setText(f"Learned {made.describe()} → {made.action}" if made else "Learned.")
            self._show_learned = made
        rows = binding_rows(self.hub)
        sig = tuple((r.input, r.action, r.value, r.origin) for r in rows)
        if sig != self._shown_signature:
            self._shown_signature = sig
            self._fill_table(rows)
        made = getattr(self, "_show_learned", None)
        if made is not None:
            self._show_learned = None
            for i, r in enumerate(self.rows):
                if r.binding == made:
                    self.table.selectRow(i)
                    self.table.scrollToItem(self.table.item(i, 0))
                    break
        self._fill_monitors()

    def _fill_table(self, rows: list[BindingRow]) -> None:
        sel = self.selected_row()
        keep = None if sel is None else (sel.input, sel.action)
        order = {"learned": 0, "osc": 1, "audio": 2, "keys": 3}     # what you map first, profiles last
        self.rows = sorted(rows, key=lambda r: (order.get(r.origin, 4), r.input))
        clash = conflicts(self.rows)
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            for col, text in enumerate((r.input, r.action, r.value, r.origin)):
                item = QTableWidgetItem(text)
                if r.input in clash:
                    item.setForeground(QBrush(QColor(theme.WARN)))
                    item.setToolTip("conflict: " + ", ".join(sorted({x.action for x in clash[r.input]})))
                elif not r.editable:
                    item.setForeground(QBrush(QColor(theme.DIM)))
                self.table.setItem(i, col, item)
            if keep == (r.input, r.action):
                self.table.selectRow(i)
        self.conflict_label.setText("" if not clash else
                                    f"{len(clash)} conflict(s): " + "; ".join(
                                        f"{k} → {', '.join(sorted({x.action for x in v}))}"
                                        for k, v in sorted(clash.items())))

    def selected_row(self) -> Optional[BindingRow]:
        sel = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not sel or sel[0].row() >= len(self.rows):
            return None
        return self.rows[sel[0].row()]

    def remove_selected(self) -> bool:
        row = self.selected_row()
        if row is None:
            return False
        if not remove_binding(self.hub, row):
            self.learn_state.setText(f"{row.origin} is read-only: learn over it, or edit the profile file")
            return False
        self.refresh()
        return True

    def save(self) -> None:
        try:
            path = self.hub.save_bindings()
        except Exception as exc:
            log.error("bindings not saved: %s", exc)
            self.learn_state.setText(f"Not saved: {exc}")
            return
        self.learn_state.setText(f"Saved to {path}")
        log.info("bindings saved to %s", path)

    # ------------------------------------------------------------------ monitors
    def _fill_monitors(self) -> None:
        now = time.monotonic()
        midi = self.hub.midi
        lines = ([f"{now - t:5.1f}s  {port.split(':')[-1]}  {msg}" for t, port, msg in list(midi.recent)[::-1][:40]]
                 if midi is not None else ["MIDI off"])
        _set_lines(self.midi_monitor, lines)
        osc = self.hub.osc
        lines = ([f"{addr}  ×{count}  {' '.join(map(str, args))}" for addr, count, args in
                  osc.recent_addresses()[:40]] if osc is not None else ["OSC off (Settings › Network)"])
        _set_lines(self.osc_monitor, lines)

    def done(self, r: int) -> None:  # noqa: D401 - Qt name
        if self.learning is not None:
            self.cancel_learn()
        self.timer.stop()
        super().done(r)


def _heading(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setProperty("role", "heading")
    return lab


def _set_lines(w: QListWidget, lines: list[str]) -> None:
    if [w.item(i).text() for i in range(w.count())] == lines:
        return
    w.clear()
    w.addItems(lines)
