"""The performer's window: preview, prompt bar, cues, live controls, status, log, output window.

Threads: the engine, playout and model loading run off the GUI thread. This window only
*pulls*: a precise 16 ms timer takes the newest paced frame (``App.latest_frame()``) and every
15th tick refreshes the status (``App.status()``), drains the log queue and runs queued
app-level actions. How late that timer fires is measured (:class:`~ui.meters.LatencyMeter`)
and shown — the budget is 16 ms while generating.

Keys go through the core's ``KeyMap`` (data, shared with MIDI/OSC) after
:func:`~ui.keymap.key_name`; typing in a text field is never taken as a hotkey (only F-keys
and Ctrl/Alt chords are). Focus rests on the preview: Enter in the prompt sends and returns
there, Esc leaves any field, and a click on anything but a text field takes focus out of it, so
hotkeys survive typing. Outside a field, Esc leaves the output window, or — with the performance
lock on — asks first. The cue table never takes focus: arrows stay hotkeys; a click stands a cue by.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QActionGroup, QCloseEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (QAbstractItemView, QAbstractSpinBox, QApplication, QComboBox, QFrame, QHBoxLayout,
                               QLabel, QLineEdit, QMainWindow, QMessageBox, QPlainTextEdit, QProgressBar, QSplitter,
                               QTabWidget, QTextEdit, QVBoxLayout, QWidget)

from sfe_live.app import App, AppSettings
from sfe_live.remote.factory import make_app

from . import theme
from .controller import Controller, ModelLoader
from .controls_panel import ControlsPanel
from .cue_panel import CuePanel
from .show_buttons import ShowButtons

if TYPE_CHECKING:
    from .mapping_dialog import MappingDialog
    from .settings_dialog import SettingsChoice
from .keymap import key_name
from .logpanel import ErrorBanner, LogPanel, QueueLogHandler
from .meters import BlockClock, LatencyMeter, RateMeter
from .model_dialog import ModelChoice, ModelDialog
from .outputs_panel import OutputsPanel
from .output_window import OutputWindow, find_screen
from .preview import choose_path, make_preview
from .prompt_bar import PromptBar
from .settings import SettingsStore, UiSettings
from .status_panel import StatusPanel
from .theme import set_state

log = logging.getLogger(__name__)

FRAME_MS = 16
STATUS_EVERY = 15          # ticks: ~4 status refreshes per second
TEXT_WIDGETS = (QLineEdit, QAbstractSpinBox, QPlainTextEdit, QTextEdit)
VIEW_KEYS = {"Up", "Down", "PageUp", "PageDown", "Home", "End", "Return", "Enter"}


def _in_text_field(w: object) -> bool:
    """True for a text widget or anything inside one (a spin box's line edit, an editor's viewport)."""
    while isinstance(w, QWidget):
        if isinstance(w, TEXT_WIDGETS) or (isinstance(w, QComboBox) and w.isEditable()):
            return True
        w = w.parentWidget()
    return False


def _b64(data: QByteArray) -> str:
    return bytes(data.toBase64().data()).decode("ascii")


def _unb64(text: str) -> QByteArray:
    return QByteArray.fromBase64(QByteArray(text.encode("ascii")))


class MainWindow(QMainWindow):
    def __init__(self, app_settings: Optional[AppSettings] = None, store: Optional[SettingsStore] = None,
                 ui_settings: Optional[UiSettings] = None, settings_message: Optional[str] = None,
                 autoload: bool = True) -> None:
        super().__init__()
        self.store = store or SettingsStore()
        self.ui = ui_settings or UiSettings()
        self.app_settings = app_settings or AppSettings()
        self._merge_saved_settings()
        self.controller = Controller()
        self.app: Optional[App] = None
        self.loader: Optional[ModelLoader] = None
        self._loading_settings = self.app_settings
        self.locked = False
        self.output: Optional[OutputWindow] = None
        self.preview_path, self.preview_reason = choose_path(self.ui.preview_path)
        self.latency = LatencyMeter(FRAME_MS / 1000)
        self.shown = RateMeter(2.0)
        self.blocks = BlockClock()
        self._seq = -1
        self._ticks = 0
        self._last_status: dict[str, Any] = {}
        self._closing = False
        self.log_handler = QueueLogHandler(logging.INFO)
        root = logging.getLogger()
        root.addHandler(self.log_handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)

        self.mapping: Optional["MappingDialog"] = None
        self._build()
        self._build_menus()
        self._install_learn_menus()
        self._restore_geometry()
        self.update_title()

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        QApplication.instance().installEventFilter(self)

        if settings_message:
            self.banner.show_message("warning", settings_message)
        cue_path = self.app_settings.cues or self.ui.last_cue_list
        if cue_path and Path(cue_path).exists():
            self.cue_panel.load_file(Path(cue_path))
        if autoload:
            self.start_loading(self.app_settings)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)

        header = QHBoxLayout()
        wordmark = QLabel("sfe-live")
        wordmark.setStyleSheet(f"font-size: 15pt; font-weight: 800; color: {theme.ACCENT};")
        self.model_label = QLabel("no model")
        self.model_label.setProperty("role", "caption")
        self.state_badge = self._badge("IDLE")
        self.path_badge = self._badge(self.preview_path.upper())
        self.path_badge.setToolTip(f"Preview path: {self.preview_reason}")
        self.output_badge = self._badge("OUTPUT OFF")
        self.lock_badge = self._badge("UNLOCKED")
        self.show_buttons = ShowButtons(self._trigger_if_live)
        header.addWidget(wordmark)
        header.addSpacing(10)
        header.addWidget(self.model_label, 1)
        header.addWidget(self.show_buttons)
        header.addSpacing(6)
        for b in (self.state_badge, self.path_badge, self.output_badge, self.lock_badge):
            header.addWidget(b)
        outer.addLayout(header)

        self.banner = ErrorBanner()
        outer.addWidget(self.banner)
        self.load_row = QFrame()
        lr = QHBoxLayout(self.load_row)
        lr.setContentsMargins(0, 0, 0, 0)
        self.load_label = QLabel("")
        self.load_label.setProperty("role", "caption")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        lr.addWidget(self.load_label)
        lr.addWidget(self.progress, 1)
        self.load_row.hide()
        outer.addWidget(self.load_row)

        self.preview = make_preview(self.preview_path)
        # the preview is where focus rests: clicking it, Enter in the prompt or Esc in any field
        # puts focus here, so 1-9, P, Space, B and the arrows are hotkeys again
        self.preview.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.preview.setToolTip(f"Preview ({self.preview_reason})")
        frame = QFrame()
        frame.setProperty("role", "panel")
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(1, 1, 1, 1)
        fl.addWidget(self.preview)
        self.prompt_bar = PromptBar(self.ui.prompt_history)
        self.prompt_bar.set_transition(self.ui.transition, self.ui.blend_blocks)
        self.prompt_bar.submitted.connect(self._send_prompt)
        # the combo and the blend length are the live settings (as Ctrl+1…4, OSC and MIDI set them)
        self.prompt_bar.transition_changed.connect(lambda name: self._trigger_if_live("transition.set", name))
        self.prompt_bar.blend_changed.connect(lambda n: self._trigger_if_live("blend.blocks", n))
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(6)
        tl.addWidget(frame, 1)
        tl.addWidget(self.prompt_bar)

        self.cue_panel = CuePanel(self.controller)
        self.cue_panel.list_changed.connect(lambda _n: self.update_title())
        self.log_panel = LogPanel()
        self.outputs_panel = OutputsPanel()
        self.outputs_panel.toggled.connect(self._switch_output)
        self.outputs_panel.recheck.connect(lambda: self.app is not None and self.app.refresh_availability())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.cue_panel, "Cues")
        self.tabs.addTab(self.outputs_panel, "Outputs")
        self.tabs.addTab(self.log_panel, "Log")
        self.tabs.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(top)
        self.left.addWidget(self.tabs)
        self.left.setStretchFactor(0, 3)
        self.left.setStretchFactor(1, 2)
        self.left.setChildrenCollapsible(False)

        self.controls = ControlsPanel(self.controller)
        self.controls.set_strength(self.ui.reactivity, send=False)
        self.status_panel = StatusPanel()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(6)
        rl.addWidget(self.controls)
        rl.addWidget(self.status_panel, 1)
        right.setMinimumWidth(380)
        right.setMaximumWidth(460)

        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(self.left)
        self.main_split.addWidget(right)
        self.main_split.setStretchFactor(0, 1)
        self.main_split.setChildrenCollapsible(False)
        outer.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.statusBar().showMessage(f"Preview: {self.preview_reason}  ·  F11 output  ·  Ctrl+L lock  ·  "
                                     "P purge  ·  1–9 cues  ·  Space pause")

    @staticmethod
    def _badge(text: str) -> QLabel:
        b = QLabel(text)
        b.setProperty("role", "badge")
        return b

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self.act_load_cues = m.addAction("Load cue list…", self.cue_panel.load_dialog)
        self.act_save_cues = m.addAction("Save cue list", self.cue_panel.save)
        m.addSeparator()
        self.act_settings = m.addAction("Settings…", self.open_settings)
        self.act_settings.setShortcut("Ctrl+,")
        self.act_connect = m.addAction("Connect to a remote engine…", self.connect_remote)
        self.act_local = m.addAction("Use the local engine", self.use_local)
        m.addSeparator()
        m.addAction("Quit", self.close)
        m = mb.addMenu("&Model")
        self.act_model = m.addAction("Choose model…", self.choose_model)
        self.act_reset = m.addAction("Restart stream\tCtrl+Shift+R", lambda: self.controller.trigger("reset"))
        m = mb.addMenu("&Output")
        self.act_output = m.addAction("Output window\tF11", self.toggle_output)
        self.act_output.setCheckable(True)
        self.screen_menu = m.addMenu("Output screen")
        self.screen_menu.aboutToShow.connect(self._fill_screens)
        m.addSeparator()
        self.outputs_panel.attach_menu(m.addMenu("Send to"))
        m.addSeparator()
        self.act_lock = m.addAction("Performance lock", lambda: self.set_locked(not self.locked))
        self.act_lock.setShortcut("Ctrl+L")
        self.act_lock.setCheckable(True)
        m = mb.addMenu("&Controls")
        self.act_mapping = m.addAction("Mapping (learn, bindings, monitor)…", self.open_mapping)
        self.act_mapping.setShortcut("Ctrl+M")
        m = mb.addMenu("&View")
        self.preview_group = QActionGroup(self)
        for p in ("auto", "gl", "raster"):
            a = m.addAction(f"Preview: {p} (next start)")
            a.setCheckable(True)
            a.setChecked(self.ui.preview_path == p)
            a.triggered.connect(lambda _=False, p=p: self._set_preview_pref(p))
            self.preview_group.addAction(a)
        self.edit_actions = (self.act_load_cues, self.act_save_cues, self.act_model, self.act_settings,
                             self.act_mapping,
                             *self.preview_group.actions())

    # ------------------------------------------------------------------ mapping and learn
    def learnable(self) -> dict[QWidget, tuple[str, Any]]:
        """On-screen controls and the action (with a fixed value) that right-click → Learn binds."""
        c = self.controls
        out: dict[QWidget, tuple[str, Any]] = {
            c.purge: ("purge", None), c.memory: ("memory.set", None), c.new_seed: ("seed.new", None),
            c.lock_seed: ("seed.lock", None), c.pause: ("pause.toggle", None), c.drift: ("driftguard.toggle", None),
            c.v2v: ("v2v.set", None), self.cue_panel.go_button: ("cue.next", None),
            self.cue_panel.next_button: ("cue.next", None), self.cue_panel.prev_button: ("cue.prev", None),
            self.show_buttons.record: ("record.toggle", None), self.show_buttons.blackout: ("blackout", None),
            self.show_buttons.freeze: ("freeze", None)}
        for i, b in enumerate(c.strength_buttons):
            out[b] = ("reactivity.set", i)
        return out

    def _install_learn_menus(self) -> None:
        for w, (action, value) in self.learnable().items():
            w.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            w.customContextMenuRequested.connect(
                lambda pos, w=w, a=action, v=value: self._learn_menu(w, pos, a, v))

    def _learn_menu(self, widget: QWidget, pos: Any, action: str, value: Any) -> None:
        from PySide6.QtWidgets import QMenu
        menu = QMenu(widget)
        label = action if value is None else f"{action} {value}"
        menu.addAction(f"Learn MIDI / OSC / key for {label}", lambda: self.learn(action, value))
        menu.addAction("Mapping…", self.open_mapping)
        menu.exec(widget.mapToGlobal(pos))

    def open_mapping(self) -> Optional["MappingDialog"]:
        """The (non-modal) mapping window; None before a model is loaded (nothing to map onto)."""
        if self.locked or self.app is None or self.app.hub is None:
            return None
        from .mapping_dialog import MappingDialog
        if self.mapping is None or self.mapping.hub is not self.app.hub:
            self.mapping = MappingDialog(self.app.hub, self)
        self.mapping.show()
        self.mapping.raise_()
        return self.mapping

    def learn(self, action: str, value: Any = None) -> None:
        dlg = self.open_mapping()
        if dlg is not None:
            dlg.learn(action, value)

    # ------------------------------------------------------------------ settings
    def _merge_saved_settings(self) -> None:
        """Saved settings (the Settings dialog) under the command line's flags, which win for this run."""
        s = self.app_settings
        s.controls = {**self.ui.controls, **s.controls}
        if not s.outputs.record_dir and self.ui.record_dir:
            s.outputs = dataclasses.replace(s.outputs, record_dir=self.ui.record_dir)
        s.low_latency = s.low_latency or self.ui.low_latency
        s.log = s.log or self.ui.command_log or None

    def open_settings(self) -> None:
        if self.locked:
            return
        from sfe_live.outputs.options import default_record_dir
        from sfe_live.controls.audio import list_input_devices
        from sfe_live.controls.settings import ControlSettings

        from .settings_dialog import SettingsDialog
        current = (self.app.hub.settings if self.app is not None and self.app.hub is not None
                   else ControlSettings.from_any(self.app_settings.controls))
        devices, _err = list_input_devices()
        dlg = SettingsDialog(current, self.ui.record_dir, self.ui.low_latency, self.ui.preview_path,
                             audio_devices=devices, default_record_dir=str(default_record_dir()),
                             command_log=self.app_settings.log or "", parent=self)
        if dlg.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dlg.values())

    def apply_settings(self, choice: "SettingsChoice") -> list[str]:
        """Save the dialog's choice and apply what can change live; returns the changed control names."""
        from .settings_dialog import saved_controls
        self.ui.controls = saved_controls(choice.controls)
        self.ui.record_dir = choice.record_dir
        latency_changed = choice.low_latency != self.ui.low_latency
        self.ui.low_latency = choice.low_latency
        self.ui.preview_path = choice.preview_path
        if choice.command_log != (self.app_settings.log or ""):   # a --log flag is not saved unless edited
            self.ui.command_log = choice.command_log
        self.store.save(self.ui)
        s = self.app_settings
        s.controls = dict(self.ui.controls)
        s.outputs = dataclasses.replace(s.outputs, record_dir=choice.record_dir or None)
        s.low_latency = choice.low_latency
        s.log = choice.command_log or None
        changed: list[str] = []
        if self.app is not None:
            self.app.set_record_dir(choice.record_dir or None)
            why = self.app.set_command_log(choice.command_log or None)
            if why:
                self.banner.show_message("warning", why)
            self.app.settings.low_latency = s.low_latency
            try:
                changed = self.app.reconfigure_controls(choice.controls)
            except Exception as exc:
                log.exception("settings not applied")
                self.banner.show_message("error", f"Settings not applied: {exc}")
        if latency_changed:
            log.info("low-latency mode %s: applies at the next model load (Model › Choose model…)",
                     "on" if choice.low_latency else "off")
        return changed

    def _fill_screens(self) -> None:
        self.screen_menu.clear()
        group = QActionGroup(self.screen_menu)
        current = self.output.screen_name if self.output else self.ui.output_screen
        default = find_screen(current).name() if QGuiApplication.screens() else ""
        for s in QGuiApplication.screens():
            g = s.geometry()
            a = self.screen_menu.addAction(f"{s.name()}  ({g.width()}×{g.height()})")
            a.setCheckable(True)
            a.setChecked(s.name() == default)
            a.triggered.connect(lambda _=False, n=s.name(): self.choose_screen(n))
            group.addAction(a)

    def _set_preview_pref(self, p: str) -> None:
        self.ui.preview_path = p
        log.info("preview path %s applies at the next start", p)

    def _restore_geometry(self) -> None:
        if self.ui.geometry:
            self.restoreGeometry(_unb64(self.ui.geometry))
        else:
            self.resize(1440, 900)
            self.left.setSizes([560, 330])
        for name, split in (("main", self.main_split), ("left", self.left)):
            if name in self.ui.splitters:
                split.restoreState(_unb64(self.ui.splitters[name]))

    def update_title(self) -> None:
        parts = ["sfe-live"]
        remote = self.app_settings.remote
        model = (str(self.app.describe_model().get("name", "?")) if self.app is not None
                 else "" if remote is not None else (self.app_settings.model or "default model"))
        if remote is not None:
            model = f"{model} · remote {remote.url}" if model else f"remote {remote.url}"
        parts.append(model)
        if self.cue_panel.name:
            parts.append(self.cue_panel.name + (" •" if self.cue_panel.dirty else ""))
        self.setWindowTitle(" — ".join(parts))

    # ------------------------------------------------------------------ model loading
    def start_loading(self, settings: AppSettings) -> None:
        """Load ``settings.model`` in the background. A running show goes on until the new model is
        ready (then it is stopped and replaced); when loading fails it goes on untouched."""
        if self.loader is not None and not self.loader.done:
            log.warning("a model is already loading")
            return
        self._loading_settings = settings
        self.loader = ModelLoader(settings, factory=make_app, previous=self.app).start()
        self.load_row.show()
        self.progress.setValue(0)
        self.load_label.setText(f"connecting to {settings.remote.url}…" if settings.remote is not None
                                else f"loading {settings.model or 'the default model'}…")
        if self.app is None:
            self.preview.set_overlay("loading model…")

    def _poll_loader(self) -> None:
        ld = self.loader
        if ld is None:
            return
        frac, text, done = ld.poll()
        self.progress.setValue(int(frac * 100))
        self.load_label.setText(text)
        if not done:
            return
        self.loader = None
        self.load_row.hide()
        if ld.app is None:
            if self.app is None:
                self.preview.set_overlay("no model loaded — Model › Choose model…")
                self.banner.show_message("error", f"Model not loaded: {ld.error}")
            else:
                name = str(self.app.describe_model().get("name", "the current model"))
                self.banner.show_message("error", f"Model not loaded: {ld.error} — the show goes on with {name}")
            return
        self.controller.detach()
        self.app_settings = self._loading_settings
        self._attach(ld.app)

    def _attach(self, app: App) -> None:
        self.app = app
        self.controller.attach(app)
        self.cue_panel.attach_player()
        try:
            app.start()
        except Exception as exc:
            log.exception("starting the engine failed")
            self.banner.show_message("error", f"Engine not started: {exc}")
            return
        self.controller.trigger("reactivity.set", self.controls.strength)
        self.controller.trigger("transition.set", self.prompt_bar.transition.currentText())
        self.controller.trigger("blend.blocks", self.prompt_bar.blend.value())
        self.preview.set_overlay("")
        self.blocks = BlockClock()
        self.latency.reset()
        desc = app.describe_model()
        self.model_label.setText(f"{desc.get('name', '?')}  ·  {desc.get('source', '')}")
        self.ui.last_model = self.app_settings.model
        self.ui.last_checkpoint = self.app_settings.checkpoint or ""
        self.update_title()
        log.info("model %s ready", desc.get("name", "?"))

    def choose_model(self) -> None:
        if self.locked:
            return
        dlg = ModelDialog(self.app_settings.model, self.app_settings.checkpoint or "", self,
                          decoder=self.app_settings.decoder)
        if dlg.exec() != ModelDialog.DialogCode.Accepted:
            return
        self.load_choice(dlg.choice())

    def load_choice(self, c: ModelChoice) -> None:
        """Load the model the dialog chose (the running show goes on until it is ready)."""
        self.start_loading(dataclasses.replace(self.app_settings, model=c.spec, checkpoint=c.checkpoint,
                                               decoder=c.decoder))
    def connect_remote(self) -> None:
        """File › Connect…: the engine on a ``sfe-live serve`` (sfe_live.remote)."""
        if self.locked:
            return
        from .connect_dialog import ConnectDialog
        dlg = ConnectDialog(self.app_settings.remote, self)
        if dlg.exec() == ConnectDialog.DialogCode.Accepted and dlg.choice is not None:
            self.start_loading(dataclasses.replace(self.app_settings, remote=dlg.choice))

    def use_local(self) -> None:
        if not self.locked and self.app_settings.remote is not None:
            self.start_loading(dataclasses.replace(self.app_settings, remote=None))

    # ------------------------------------------------------------------ the timer
    def _tick(self) -> None:
        now = time.perf_counter()
        self.latency.tick(now)
        self._ticks += 1
        app = self.app
        if app is not None:
            frame, seq = app.latest_frame()
            if frame is not None and seq != self._seq:
                self._seq = seq
                self.show_frame(frame, seq)
                self.shown.add(now)
        if self._ticks % STATUS_EVERY == 0:
            self._slow_tick(now)

    def show_frame(self, frame: np.ndarray, seq: int) -> None:
        self.preview.set_frame(frame, seq)
        if self.output is not None:
            self.output.set_frame(frame, seq)

    def _slow_tick(self, now: float) -> None:
        self._drain_log()
        self._poll_loader()          # after the log: its verdict is the banner's last word
        for action, value in self.controller.take_ui_actions():
            if action == "output.fullscreen":
                want = (not self.output_visible) if value is None else bool(value)
                if want != self.output_visible:
                    self.toggle_output()
        self.cue_panel.adopt_external()
        self.cue_panel.highlight()
        if self.app is None:
            return
        st = self.app.status()
        self._last_status = st
        eng = st.get("engine") or {}
        if "block" in eng:
            self.blocks.update(int(eng["block"]), now)
        state = self.controller.state() or eng
        self.controls.sync(state)
        self.prompt_bar.sync(state.get("transition"), state.get("blend_blocks"))
        self.prompt_bar.set_on_air(str(eng.get("prompt", "")), bool(eng.get("blending")))
        self.outputs_panel.show_rows(self.app.outputs_view())
        self.status_panel.show_status(st, eta=self.blocks.eta(now), gui=self.latency.stats(),
                                      shown_fps=self.shown.rate(now), preview=self.preview_path,
                                      vram=self._vram(st))
        paused = bool(eng.get("paused"))
        blackout, frozen = bool(self.app.blackout), bool(self.app.frozen)
        self.show_buttons.sync(st, blackout, frozen)
        self.preview.set_overlay("PAUSED" if paused else "")
        # the badge says what the audience sees: black, a held frame, a paused or a live stream
        text, state = (("BLACKOUT", "locked") if blackout else ("FROZEN", "warn") if frozen else
                       ("PAUSED", "warn") if paused else ("LIVE", "live") if eng.get("running") else ("STOPPED", ""))
        self.state_badge.setText(text)
        set_state(self.state_badge, state)

    @staticmethod
    def _vram(st: dict[str, Any]) -> str:
        dev = str((st.get("model") or {}).get("device", ""))
        if not dev.startswith("cuda"):
            return "— (CPU)"
        try:
            import torch
            return (f"{torch.cuda.memory_allocated() / 2**30:.2f} GB used · "
                    f"{torch.cuda.memory_reserved() / 2**30:.2f} GB reserved")
        except Exception:
            return "?"

    def _drain_log(self) -> None:
        for line in self.log_handler.drain():
            self.log_panel.add(line)
            if line.level >= logging.ERROR:
                self.banner.show_message("error", line.text)
            elif line.level >= logging.WARNING:
                self.banner.show_message("warning", line.text)
            elif line.name == "sfe_live.app":       # App.message(): meant for the performer
                self.banner.show_message("info", line.text)

    # ------------------------------------------------------------------ gestures
    def _trigger_if_live(self, action: str, value: object) -> None:
        if self.app is not None:
            self.controller.trigger(action, value)

    def _send_prompt(self, text: str, transition: str, blend_blocks: int) -> None:
        self.controller.send_prompt(text, transition, blend_blocks)
        self.release_focus()           # Enter sends and hands the keys back to the hotkeys

    def _switch_output(self, key: str, on: bool) -> None:
        """Outputs panel/menu: switch off the GUI thread (closing a stuck sink may wait ~2 s)."""
        app = self.app
        if app is not None:
            threading.Thread(target=app.set_output, args=(key, on), name=f"output-{key}", daemon=True).start()

    # ------------------------------------------------------------------ output window
    @property
    def output_visible(self) -> bool:
        return self.output is not None and self.output.isVisible()

    def toggle_output(self) -> None:
        if self.output_visible:
            assert self.output is not None
            self.output.close()
        else:
            self.open_output()

    def open_output(self, screen_name: Optional[str] = None) -> None:
        if self.output is None:
            path, _ = choose_path(self.ui.preview_path)
            self.output = OutputWindow(path, self._confirm_output_close, self._output_closed)
        screen = find_screen(screen_name if screen_name is not None else self.ui.output_screen)
        self.output.show_on(screen)
        self.ui.output_screen = screen.name()
        self.act_output.setChecked(True)
        self.controller.set_state("fullscreen", True)
        self.output_badge.setText(f"OUTPUT {screen.name()}")
        set_state(self.output_badge, "live")
        if self.app is not None:
            frame, seq = self.app.latest_frame()
            if frame is not None:
                self.output.set_frame(frame, seq)

    def choose_screen(self, name: str) -> None:
        self.ui.output_screen = name
        if self.output_visible:
            self.open_output(name)

    def _confirm_output_close(self) -> bool:
        if self.locked and not self._closing:
            return self.confirm("Close the output window?",
                                "The performance lock is on. Close the audience's output window?")
        return True

    def _output_closed(self) -> None:
        self.act_output.setChecked(False)
        self.controller.set_state("fullscreen", False)
        self.output_badge.setText("OUTPUT OFF")
        set_state(self.output_badge, "")

    # ------------------------------------------------------------------ performance lock
    def set_locked(self, locked: bool) -> None:
        self.locked = locked
        self.cue_panel.set_locked(locked)
        self.controls.set_locked(locked)
        for a in self.edit_actions:
            a.setEnabled(not locked)
        self.act_lock.setChecked(locked)
        self.lock_badge.setText("LOCKED" if locked else "UNLOCKED")
        set_state(self.lock_badge, "locked" if locked else "")
        log.info("performance lock %s", "on" if locked else "off")

    def confirm(self, title: str, text: str) -> bool:
        """Ask yes/no (tests replace this)."""
        r = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                 QMessageBox.StandardButton.No)
        return r == QMessageBox.StandardButton.Yes

    def escape(self) -> None:
        """Esc: with the lock on, ask to unlock (and leave the output); otherwise close the output."""
        if self.locked:
            if self.confirm("Leave performance mode?", "Unlock the controls and close the output window?"):
                self.set_locked(False)
                if self.output_visible:
                    assert self.output is not None
                    self.output.close()
        elif self.output_visible:
            assert self.output is not None
            self.output.close()

    # ------------------------------------------------------------------ keys
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt name
        et = event.type()
        if et == QEvent.Type.MouseButtonPress:
            # a click on anything but a text field (buttons, sliders, the cue table, the preview) takes
            # focus out of the prompt, so hotkeys work again after typing
            if isinstance(obj, QWidget) and obj.window() is self and _in_text_field(QApplication.focusWidget()) \
                    and not _in_text_field(obj):
                self.release_focus()
            return False
        if et not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) or not isinstance(event, QKeyEvent):
            return False
        if not isinstance(obj, QWidget) or obj.window() not in (self, self.output):
            return False          # dialogs keep their keys
        return self.handle_key(event, obj)

    def release_focus(self) -> None:
        """Leave any text field: focus rests on the preview, where every key is a hotkey."""
        self.preview.setFocus(Qt.FocusReason.OtherFocusReason)

    def handle_key(self, event: QKeyEvent, target: Optional[QWidget] = None) -> bool:
        """True when the key was a hotkey (consumed)."""
        pressed = event.type() == QEvent.Type.KeyPress
        focus = target if target is not None else QApplication.focusWidget()
        if event.key() == Qt.Key.Key_Escape:
            if pressed and not event.isAutoRepeat():
                if _in_text_field(focus):
                    self.release_focus()      # Esc leaves the field (and does nothing else)
                else:
                    self.escape()
            return True
        name = key_name(event)
        if name is None:
            return False
        km = self.controller.keymap
        if not pressed and km is not None and km.holding(name):
            return bool(km.handle(name, pressed=False))   # a held hotkey's release, wherever the focus is
        chord = any(m in name for m in ("Ctrl+", "Alt+")) or name.split("+")[-1].startswith("F") and \
            name.split("+")[-1][1:].isdigit()
        if _in_text_field(focus):
            if not chord:
                return False
        elif isinstance(focus, QAbstractItemView) and name in VIEW_KEYS:
            return False
        if km is None:
            if name == "F11" and pressed and not event.isAutoRepeat():
                self.toggle_output()
                return True
            return False
        try:
            return bool(km.handle(name, pressed=pressed, repeat=event.isAutoRepeat()))
        except Exception:
            log.exception("key %s failed", name)
            return True

    # ------------------------------------------------------------------ closing
    def save_settings(self) -> None:
        self.ui.geometry = _b64(self.saveGeometry())
        self.ui.splitters = {"main": _b64(self.main_split.saveState()), "left": _b64(self.left.saveState())}
        self.ui.prompt_history = list(self.prompt_bar.history.items)
        self.ui.transition = self.prompt_bar.transition.currentText()
        self.ui.blend_blocks = self.prompt_bar.blend.value()
        self.ui.reactivity = self.controls.strength
        self.ui.output_open_on_start = self.output_visible
        if self.cue_panel.path is not None:
            self.ui.last_cue_list = str(self.cue_panel.path)
        self.store.save(self.ui)
        try:
            self.controller.save_keys()
        except Exception:
            log.exception("key bindings not saved")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        if self.locked and not self.confirm("Quit sfe-live?", "The performance lock is on. End the show?"):
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Save settings, stop the timer, the output window and the engine (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self.timer.stop()
        try:
            self.save_settings()
        except Exception:
            log.exception("settings not saved")
        if self.output is not None:
            self.output.close()
            self.output.deleteLater()
            self.output = None
        if self.mapping is not None:
            self.mapping.close()
        QApplication.instance().removeEventFilter(self)
        if self.loader is not None:
            self.loader.join(30)
            if self.loader.app is not None:
                self.loader.app.stop()
        if self.app is not None:
            try:
                self.app.stop()
            except Exception:
                log.exception("stopping the engine failed")
        logging.getLogger().removeHandler(self.log_handler)
