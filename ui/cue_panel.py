"""The cue list panel: the loaded cues, current and next highlighted, GO / previous / next,
and editing (add, edit, duplicate, reorder, delete, load, save).

The selected row is the *standby* cue (as in QLab): GO fires it and moves the selection to the
cue after it. Cues are fired by the core's :class:`~sfe_live.show.cues.CuePlayer` (so keys 1–9,
OSC ``/sfe/cue/go`` and this button do the same thing); edits rebuild the player's
``CueList`` keeping the current cue. Files are ``presets/*.toml``, written atomically by
:func:`~sfe_live.show.cues.save_cue_list`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QFrame, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from sfe_live.engine.commands import BLEND_MODES, TRANSITIONS
from sfe_live.show.cues import QUANTIZE, Cue, CueList, load_cue_list, save_cue_list

from . import theme
from .controller import Controller

log = logging.getLogger(__name__)

COLUMNS = ("#", "Name", "Prompt", "Transition", "Str", "Blend", "Advance")
PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"


class CueDialog(QDialog):
    """Edit one cue; :meth:`cue` returns the edited copy."""

    def __init__(self, cue: Cue, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cue")
        self.setMinimumWidth(520)
        self._orig = cue
        form = QFormLayout(self)
        self.name = QLineEdit(cue.name)
        self.prompt = QPlainTextEdit(cue.prompt)
        self.prompt.setFixedHeight(80)
        self.transition = QComboBox()
        self.transition.addItems(list(TRANSITIONS))
        self.transition.setCurrentText(cue.transition)
        self.strength = QComboBox()
        self.strength.addItems(["reactivity", "0", "1", "2", "3"])
        self.strength.setCurrentIndex(0 if cue.strength is None else cue.strength + 1)
        self.blend = QSpinBox()
        self.blend.setRange(1, 64)
        self.blend.setValue(cue.blend_blocks)
        self.blend_mode = QComboBox()
        self.blend_mode.addItems(list(BLEND_MODES))
        self.blend_mode.setCurrentText(cue.blend_mode)
        self.advance = QSpinBox()
        self.advance.setRange(0, 100000)
        self.advance.setSpecialValueText("off")
        self.advance.setSuffix(" blocks")
        self.advance.setValue(cue.advance_blocks or 0)
        self.quantize = QComboBox()
        self.quantize.addItems(["list default"] + list(QUANTIZE))
        self.quantize.setCurrentText(cue.quantize or "list default")
        for label, w in (("Name", self.name), ("Prompt", self.prompt), ("Transition", self.transition),
                         ("Purge strength", self.strength), ("Blend blocks", self.blend),
                         ("Blend mode", self.blend_mode), ("Auto-advance after", self.advance),
                         ("Quantise GO", self.quantize)):
            form.addRow(label, w)
        self.error = QLabel("")
        self.error.setStyleSheet(f"color: {theme.BAD};")
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def cue(self) -> Cue:
        s = self.strength.currentIndex()
        q = self.quantize.currentText()
        return dataclasses.replace(
            self._orig, name=self.name.text().strip(), prompt=self.prompt.toPlainText().strip(),
            transition=self.transition.currentText(), strength=None if s == 0 else s - 1,
            blend_blocks=self.blend.value(), blend_mode=self.blend_mode.currentText(),
            advance_blocks=self.advance.value() or None,
            advance_beats=None if self.advance.value() else self._orig.advance_beats,
            quantize=None if q == "list default" else q)

    def _accept(self) -> None:
        if not self.prompt.toPlainText().strip():
            self.error.setText("A cue needs a prompt.")
            return
        self.accept()


class CuePanel(QFrame):
    """Emits ``list_changed(name)`` when a list is loaded, renamed or edited (for the title)."""

    list_changed = Signal(str)

    def __init__(self, controller: Controller, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setProperty("role", "panel")
        self.cues: list[Cue] = []
        self.meta = CueList(cues=(), name="")
        self.path: Optional[Path] = None
        self.dirty = False
        self.locked = False
        self._pushed: Optional[CueList] = None      # the list object last handed to the player
        self._shown_current: Optional[int] = -2
        self._shown_pending: Optional[int] = -2

        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 10)
        lay.setSpacing(6)
        head = QHBoxLayout()
        cap = QLabel("CUES")
        cap.setProperty("role", "heading")
        self.title = QLabel("no cue list")
        self.title.setProperty("role", "caption")
        self.load_button = self._tool("Load…", self.load_dialog, "Load a cue list (presets/*.toml)")
        self.save_button = self._tool("Save", self.save, "Save the cue list (atomic)")
        self.save_as_button = self._tool("Save as…", self.save_as_dialog, "Save under a new name")
        head.addWidget(cap)
        head.addSpacing(8)
        head.addWidget(self.title, 1)
        for b in (self.load_button, self.save_button, self.save_as_button):
            head.addWidget(b)
        lay.addLayout(head)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        hh = self.table.horizontalHeader()
        for i, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Interactive,
                                  QHeaderView.ResizeMode.Stretch) + (QHeaderView.ResizeMode.ResizeToContents,) * 4):
            hh.setSectionResizeMode(i, mode)
        self.table.setColumnWidth(1, 120)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())
        lay.addWidget(self.table, 1)

        row = QHBoxLayout()
        row.setSpacing(6)
        self.prev_button = self._tool("◀ Prev", self.prev, "Fire the previous cue  [←]")
        self.go_button = self._tool("GO", self.go, "Fire the selected (standby) cue")
        self.go_button.setObjectName("go")
        self.go_button.setMinimumHeight(40)
        self.go_button.setMinimumWidth(110)
        self.next_button = self._tool("Next ▶", self.next, "Fire the cue after the current one  [→]")
        row.addWidget(self.prev_button)
        row.addWidget(self.go_button)
        row.addWidget(self.next_button)
        row.addSpacing(16)
        self.add_button = self._tool("Add", self.add_cue, "Add a cue after the selection")
        self.edit_button = self._tool("Edit", self.edit_selected, "Edit the selected cue")
        self.dup_button = self._tool("Duplicate", self.duplicate_selected, "Duplicate the selected cue")
        self.up_button = self._tool("▲", lambda: self.move_selected(-1), "Move up")
        self.down_button = self._tool("▼", lambda: self.move_selected(1), "Move down")
        self.del_button = self._tool("Delete", self.delete_selected, "Delete the selected cue")
        for b in (self.add_button, self.edit_button, self.dup_button, self.up_button, self.down_button,
                  self.del_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        self.edit_buttons = (self.load_button, self.save_button, self.save_as_button, self.add_button,
                             self.edit_button, self.dup_button, self.up_button, self.down_button, self.del_button)

    @staticmethod
    def _tool(text: str, slot, tip: str) -> QPushButton:  # type: ignore[no-untyped-def]
        b = QPushButton(text)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.setToolTip(tip)
        b.clicked.connect(lambda _=False: slot())
        return b

    # ------------------------------------------------------------------ the list
    def cue_list(self) -> CueList:
        return dataclasses.replace(self.meta, cues=tuple(self.cues),
                                   path=str(self.path) if self.path else None)

    def set_cue_list(self, cl: Optional[CueList], path: Optional[Path] = None) -> None:
        """Show ``cl`` (None = empty) and hand it to the player."""
        self.cues = list(cl.cues) if cl else []
        self.meta = dataclasses.replace(cl, cues=()) if cl else CueList(cues=(), name="")
        self.path = Path(path) if path else (Path(cl.path) if cl and cl.path else None)
        self.dirty = False
        player = self.controller.cues
        if player is not None:
            if player.cue_list is not cl:
                player.load(cl if cl and cl.cues else None)
            self._pushed = player.cue_list
        self._refresh()
        self.list_changed.emit(self.name)

    @property
    def name(self) -> str:
        return self.meta.name or (self.path.stem if self.path else "")

    def _push(self) -> None:
        """After an edit: new CueList to the player, keeping its current cue."""
        self.dirty = True
        player = self.controller.cues
        if player is not None:
            idx = player.index
            player.load(self.cue_list() if self.cues else None)
            self._pushed = player.cue_list
            if idx is not None and idx < len(self.cues):
                player.index = idx
        self._refresh()
        self.list_changed.emit(self.name)

    def attach_player(self) -> None:
        """A new player (model loaded): give it our list, or show the one it already has."""
        player = self.controller.cues
        if player is None:
            return
        if self.cues:
            player.load(self.cue_list())
            self._pushed = player.cue_list
        else:
            self.set_cue_list(player.cue_list)

    def adopt_external(self) -> None:
        """Show a list loaded behind our back (``--cues`` at start, OSC, another tool)."""
        player = self.controller.cues
        if player is not None and player.cue_list is not self._pushed:
            log.info("cue list %s loaded by the controls", player.cue_list.name if player.cue_list else "(none)")
            self.set_cue_list(player.cue_list)

    def _refresh(self) -> None:
        sel = self.selected_row()
        self.table.setRowCount(len(self.cues))
        for r, c in enumerate(self.cues):
            adv = (f"{c.advance_blocks} blk" if c.advance_blocks else
                   f"{c.advance_beats:g} beats" if c.advance_beats else "")
            cells = (str(r + 1), c.name, c.prompt, c.transition,
                     "" if c.strength is None else str(c.strength),
                     str(c.blend_blocks) if c.transition == "blend" else "", adv)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (0, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if col == 2:
                    item.setToolTip(c.prompt)
                self.table.setItem(r, col, item)
        self.title.setText(f"{self.name or 'untitled'}{' •' if self.dirty else ''}  ·  {len(self.cues)} cues"
                           if self.cues or self.name else "no cue list — Load… or Add")
        self._shown_current = self._shown_pending = -2
        if sel is not None and sel < len(self.cues):
            self.table.selectRow(sel)
        self.highlight()

    def highlight(self) -> None:
        """Colour the current (amber), pending (dim amber) and standby/next (blue) rows."""
        player = self.controller.cues
        cur = player.index if player is not None else None
        st = player.status() if player is not None else {}
        pend = (st.get("cue_pending") or 0) - 1
        pend = pend if pend >= 0 else None
        if (cur, pend) == (self._shown_current, self._shown_pending):
            return
        self._shown_current, self._shown_pending = cur, pend
        nxt = None if cur is None else (cur + 1 if cur + 1 < len(self.cues) else None)
        for r in range(self.table.rowCount()):
            if r == cur:
                bg, fg = QColor(theme.ACCENT), QColor("#111111")
            elif r == pend:
                bg, fg = QColor("#6b4d12"), QColor(theme.TEXT)
            elif r == nxt:
                bg, fg = QColor("#17345c"), QColor(theme.TEXT)
            else:
                bg, fg = None, None
            for col in range(self.table.columnCount()):
                item = self.table.item(r, col)
                if item is None:
                    continue
                item.setBackground(QBrush(bg) if bg is not None else QBrush())
                item.setForeground(QBrush(fg) if fg is not None else QBrush())
                f = item.font()
                f.setBold(r == cur)
                item.setFont(f)

    def selected_row(self) -> Optional[int]:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else None

    # ------------------------------------------------------------------ performing
    def go(self) -> bool:
        """Fire the selected cue (or the next one when nothing is selected); select the one after."""
        player = self.controller.cues
        if player is None or not self.cues:
            return False
        row = self.selected_row()
        if row is None:
            row = 0 if player.index is None else min(player.index + 1, len(self.cues) - 1)
        ok = self.controller.trigger("cue.go", row + 1) if self._routed() else player.go(row + 1)
        if ok and row + 1 < len(self.cues):
            self.table.selectRow(row + 1)
        self.highlight()
        return ok

    def next(self) -> bool:
        player = self.controller.cues
        ok = bool(player and (self.controller.trigger("cue.next") if self._routed() else player.next()))
        self._select_after_current()
        return ok

    def prev(self) -> bool:
        player = self.controller.cues
        ok = bool(player and (self.controller.trigger("cue.prev") if self._routed() else player.prev()))
        self._select_after_current()
        return ok

    def _routed(self) -> bool:
        return self.controller.ready

    def _select_after_current(self) -> None:
        player = self.controller.cues
        if player is not None and player.index is not None and player.index + 1 < len(self.cues):
            self.table.selectRow(player.index + 1)
        self.highlight()

    # ------------------------------------------------------------------ editing
    def add_cue(self, cue: Optional[Cue] = None, ask: bool = True) -> None:
        if cue is None:
            cue = Cue(prompt="")
            if ask:
                dlg = CueDialog(cue, self)
                if dlg.exec() != QDialog.DialogCode.Accepted:
                    return
                cue = dlg.cue()
        if not cue.prompt.strip():
            return
        row = self.selected_row()
        at = len(self.cues) if row is None else row + 1
        self.cues.insert(at, cue)
        self._push()
        self.table.selectRow(at)

    def edit_selected(self) -> None:
        row = self.selected_row()
        if self.locked or row is None:
            return
        dlg = CueDialog(self.cues[row], self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.replace_cue(row, dlg.cue())

    def replace_cue(self, row: int, cue: Cue) -> None:
        self.cues[row] = cue
        self._push()

    def duplicate_selected(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        self.cues.insert(row + 1, self.cues[row])
        self._push()
        self.table.selectRow(row + 1)

    def move_selected(self, delta: int) -> None:
        row = self.selected_row()
        if row is None:
            return
        to = row + delta
        if not 0 <= to < len(self.cues):
            return
        self.cues[row], self.cues[to] = self.cues[to], self.cues[row]
        player = self.controller.cues
        cur = player.index if player is not None else None
        self._push()
        if player is not None and cur in (row, to):   # the current cue moved with its row
            player.index = to if cur == row else row
            self.highlight()
        self.table.selectRow(to)

    def delete_selected(self) -> None:
        row = self.selected_row()
        if row is None:
            return
        del self.cues[row]
        player = self.controller.cues
        cur = player.index if player is not None else None
        self._push()
        if player is not None and cur is not None:
            player.index = None if cur == row else (cur - 1 if cur > row else cur)
            self.highlight()
        if self.cues:
            self.table.selectRow(min(row, len(self.cues) - 1))

    # ------------------------------------------------------------------ files
    def load_file(self, path: Path) -> bool:
        try:
            cl = load_cue_list(path)
        except Exception as exc:
            log.error("cue list not loaded: %s", exc)
            return False
        self.set_cue_list(cl, Path(path))
        log.info("cue list %s loaded (%d cues)", cl.name, len(cl.cues))
        return True

    def save_file(self, path: Path) -> bool:
        if not self.cues:
            log.error("an empty cue list cannot be saved (add a cue first)")
            return False
        try:
            cl = self.cue_list()
            if not cl.name:
                cl = dataclasses.replace(cl, name=Path(path).stem.replace("_", " "))
                self.meta = dataclasses.replace(self.meta, name=cl.name)
            save_cue_list(cl, path)
        except Exception as exc:
            log.error("cue list not saved to %s: %s", path, exc)
            return False
        self.path = Path(path)
        self.dirty = False
        self._refresh()
        self.list_changed.emit(self.name)
        log.info("cue list saved to %s", path)
        return True

    def load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load cue list", str(self._folder()), "Cue lists (*.toml)")
        if path:
            self.load_file(Path(path))

    def save(self) -> None:
        if self.path is None:
            self.save_as_dialog()
        else:
            self.save_file(self.path)

    def save_as_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save cue list", str(self._folder() / "cues.toml"),
                                              "Cue lists (*.toml)")
        if path:
            self.save_file(Path(path) if path.endswith(".toml") else Path(path + ".toml"))

    def _folder(self) -> Path:
        if self.path is not None:
            return self.path.parent
        return PRESETS_DIR if PRESETS_DIR.exists() else Path.cwd()

    # ------------------------------------------------------------------ lock
    def set_locked(self, locked: bool) -> None:
        self.locked = locked
        for b in self.edit_buttons:
            b.setEnabled(not locked)
