"""Live controls: PURGE with its strength, memory, seed, pause, video-to-video, drift guard.

Every gesture becomes a named action through the :class:`~ui.controller.Controller` (so MIDI,
OSC and the UI agree); :meth:`ControlsPanel.sync` mirrors the engine's state back into the
widgets without re-sending (a knob turned on a controller moves the fader here).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget)

from .controller import Controller
from .theme import set_state

log = logging.getLogger(__name__)

V2V_SOURCES = ("off", "video file…", "image…", "camera", "NDI…", "Spout…", "Syphon…")


def _heading(text: str) -> QLabel:
    lab = QLabel(text)
    lab.setProperty("role", "heading")
    return lab


def _button(text: str, checkable: bool = False, tip: str = "") -> QPushButton:
    b = QPushButton(text)
    b.setCheckable(checkable)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    if tip:
        b.setToolTip(tip)
    return b


class ControlsPanel(QFrame):
    def __init__(self, controller: Controller, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setProperty("role", "panel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(6)

        # PURGE + strength
        lay.addWidget(_heading("PURGE · REACTIVITY"))
        self.purge = _button("PURGE", tip="Clear the memory (KV cache) at the selected strength: "
                                          "3 = biggest change, 0 = most continuity  [P]")
        self.purge.setObjectName("purge")
        self.purge.setMinimumHeight(76)
        self.purge.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.purge.clicked.connect(self.do_purge)
        lay.addWidget(self.purge)
        row = QHBoxLayout()
        row.setSpacing(4)
        self.strength_group = QButtonGroup(self)
        self.strength_group.setExclusive(True)
        self.strength_buttons: list[QPushButton] = []
        for s in range(4):
            b = _button(str(s), checkable=True, tip=f"Reactivity {s}: purge strength used by PURGE and "
                                                    "purge transitions  [↑/↓]")
            b.setMinimumHeight(34)
            self.strength_group.addButton(b, s)
            self.strength_buttons.append(b)
            row.addWidget(b)
        self.strength_buttons[3].setChecked(True)
        self.strength_group.idClicked.connect(self._strength_clicked)
        lay.addLayout(row)

        # memory
        lay.addSpacing(4)
        head = QHBoxLayout()
        head.addWidget(_heading("MEMORY"))
        self.memory_value = QLabel("1.00")
        self.memory_value.setProperty("role", "value")
        head.addStretch(1)
        head.addWidget(self.memory_value)
        lay.addLayout(head)
        self.memory = QSlider(Qt.Orientation.Horizontal)
        self.memory.setRange(0, 100)
        self.memory.setValue(100)
        self.memory.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.memory.setToolTip("How much cached frames steer the present (1 = reference)  [ [ / ] ]")
        self.memory.valueChanged.connect(self._memory_changed)
        lay.addWidget(self.memory)

        # seed / pause / drift
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(6)
        self.seed_label = QLabel("seed —")
        self.seed_label.setProperty("role", "value")
        self.new_seed = _button("New seed", tip="Pick a fresh seed (ignored while locked)  [N]")
        self.new_seed.clicked.connect(lambda: self.controller.trigger("seed.new"))
        self.lock_seed = _button("Lock", checkable=True, tip="Lock the seed  [L]")
        self.lock_seed.toggled.connect(lambda on: self.controller.trigger("seed.lock", on))
        self.pause = _button("Pause", checkable=True, tip="Pause / resume generation  [Space]")
        self.pause.toggled.connect(self._pause_toggled)
        self.drift = _button("Drift guard", checkable=True, tip="Purge automatically when the picture drifts")
        self.drift.toggled.connect(lambda on: self.controller.trigger("driftguard.toggle", on))
        self.drift_state = QLabel("off")
        self.drift_state.setProperty("role", "caption")
        grid.addWidget(_heading("SEED"), 0, 0, 1, 3)
        grid.addWidget(self.seed_label, 1, 0)
        grid.addWidget(self.new_seed, 1, 1)
        grid.addWidget(self.lock_seed, 1, 2)
        grid.addWidget(_heading("STREAM"), 2, 0, 1, 3)
        grid.addWidget(self.pause, 3, 0)
        grid.addWidget(self.drift, 3, 1)
        grid.addWidget(self.drift_state, 3, 2)
        lay.addLayout(grid)

        # v2v
        lay.addSpacing(4)
        head = QHBoxLayout()
        head.addWidget(_heading("VIDEO → VIDEO"))
        head.addStretch(1)
        self.v2v_value = QLabel("off")
        self.v2v_value.setProperty("role", "value")
        head.addWidget(self.v2v_value)
        lay.addLayout(head)
        self.v2v_source = QComboBox()
        self.v2v_source.addItems(list(V2V_SOURCES))
        self.v2v_source.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.v2v_source.setToolTip("The picture source the model follows when strength > 0")
        self.v2v_source.activated.connect(self._source_chosen)
        self.v2v = QSlider(Qt.Orientation.Horizontal)
        self.v2v.setRange(0, 100)
        self.v2v.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.v2v.setToolTip("Video-to-video strength (0 = off, pure text-to-video)")
        self.v2v.valueChanged.connect(self._v2v_changed)
        lay.addWidget(self.v2v_source)
        lay.addWidget(self.v2v)
        lay.addStretch(1)
        self.source_object: Any = None

    # ------------------------------------------------------------------ gestures
    @property
    def strength(self) -> int:
        return max(0, self.strength_group.checkedId())

    def do_purge(self) -> None:
        self.controller.trigger("purge", self.strength)

    def set_strength(self, s: int, send: bool = True) -> None:
        s = max(0, min(3, int(s)))
        self.strength_buttons[s].setChecked(True)
        if send:
            self.controller.trigger("reactivity.set", s)

    def _strength_clicked(self, s: int) -> None:
        self.controller.trigger("reactivity.set", s)

    def _memory_changed(self, v: int) -> None:
        self.memory_value.setText(f"{v / 100:.2f}")
        if not self.memory.signalsBlocked():
            self.controller.trigger("memory.set", v / 100)

    def _pause_toggled(self, on: bool) -> None:
        self.pause.setText("Resume" if on else "Pause")
        self.controller.trigger("pause.toggle", on)

    def _v2v_changed(self, v: int) -> None:
        self.v2v_value.setText("off" if v == 0 else f"{v / 100:.2f}")
        self.controller.trigger("v2v.set", v / 100)

    def _source_chosen(self, index: int) -> None:
        kind = V2V_SOURCES[index]
        src: Any = None
        try:
            if kind == "video file…":
                path, _ = QFileDialog.getOpenFileName(self, "Video-to-video source", "",
                                                      "Video (*.mp4 *.mov *.mkv *.webm *.avi);;All files (*)")
                if not path:
                    self.v2v_source.setCurrentIndex(0)
                    return
                from sfe_live.sources import FileSource
                src = FileSource(Path(path))
            elif kind == "image…":
                path, _ = QFileDialog.getOpenFileName(self, "Video-to-video still", "",
                                                      "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)")
                if not path:
                    self.v2v_source.setCurrentIndex(0)
                    return
                from sfe_live.sources import StillImageSource
                src = StillImageSource(Path(path))
            elif kind == "camera":
                from sfe_live.sources import CameraSource
                src = CameraSource()
            elif kind in ("NDI…", "Spout…", "Syphon…"):
                src = self._ask_network_source(kind.rstrip("…").lower())
                if src is None:
                    self.v2v_source.setCurrentIndex(0)
                    return
        except Exception as exc:
            log.error("v2v source %s could not be opened: %s", kind, exc)
            self.v2v_source.setCurrentIndex(0)
            return
        if not self.controller.set_source(src):
            self.v2v_source.setCurrentIndex(0)
            return
        self.source_object = src

    def _ask_network_source(self, kind: str) -> Any:
        """NDI / Spout / Syphon: pick a discovered name (or type one); None when cancelled or not
        available here (the reason goes to the log and the banner, as ``doctor`` words it)."""
        from sfe_live.sources.options import make_source

        probe = make_source(f"{kind}:?")
        avail = probe.is_available()
        if not avail:
            log.error("%s input: %s", kind, avail.reason)
            return None
        names: list[str] = []
        if kind == "ndi":
            from sfe_live.sources.ndi import list_ndi_sources
            names = list_ndi_sources(0.5)
        elif kind == "syphon":
            from sfe_live.sources.texshare import list_syphon_servers
            names = list_syphon_servers()
        hint = {"ndi": "NDI source (found on the network, or type part of a name):",
                "spout": "Spout sender (empty: the active sender):",
                "syphon": "Syphon server (empty: the first one):"}[kind]
        name, ok = self.ask_item(f"Video-to-video from {kind.upper() if kind == 'ndi' else kind.title()}",
                                 hint, names)
        if not ok or (kind == "ndi" and not name.strip()):
            return None
        return make_source(f"{kind}:{name.strip()}")

    def ask_item(self, title: str, label: str, items: list[str]) -> tuple[str, bool]:
        """An editable choice (tests replace this)."""
        from PySide6.QtWidgets import QInputDialog
        return QInputDialog.getItem(self, title, label, items or [""], 0, True)

    # ------------------------------------------------------------------ mirroring
    def sync(self, st: Mapping[str, Any]) -> None:
        """Reflect engine/router state without sending anything back."""
        if "reactivity" in st:
            s = int(st["reactivity"])
            if 0 <= s <= 3 and self.strength_group.checkedId() != s:
                self.strength_buttons[s].setChecked(True)
        if "memory" in st and not self.memory.isSliderDown():
            v = int(round(float(st["memory"]) * 100))
            if v != self.memory.value():
                self.memory.blockSignals(True)
                self.memory.setValue(v)
                self.memory_value.setText(f"{v / 100:.2f}")
                self.memory.blockSignals(False)
        if "seed" in st:
            self.seed_label.setText(f"seed {st['seed']}")
        for key, button in (("seed_locked", self.lock_seed), ("paused", self.pause), ("drift_guard", self.drift)):
            if key in st and button.isChecked() != bool(st[key]):
                button.blockSignals(True)
                button.setChecked(bool(st[key]))
                button.blockSignals(False)
                if button is self.pause:
                    self.pause.setText("Resume" if button.isChecked() else "Pause")
        if "drift_guard" in st:
            if st.get("drift_guard"):
                self.drift_state.setText(f"Δ {float(st.get('drift_deviation', 0.0)):.2f} · "
                                         f"{int(st.get('drift_triggers', 0))} fired")
                set_state(self.drift_state, "ok")
            else:
                self.drift_state.setText("off")
                set_state(self.drift_state, "")
        if "v2v_amount" in st and not self.v2v.isSliderDown():
            v = int(round(float(st["v2v_amount"]) * 100))
            if v != self.v2v.value():
                self.v2v.blockSignals(True)
                self.v2v.setValue(v)
                self.v2v_value.setText("off" if v == 0 else f"{v / 100:.2f}")
                self.v2v.blockSignals(False)

    def set_locked(self, locked: bool) -> None:
        """Performance lock: source choice is setup, not performance."""
        self.v2v_source.setEnabled(not locked)
