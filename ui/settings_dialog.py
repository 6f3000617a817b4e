"""The Settings dialog: everything the app reads from settings, grouped as a performer looks for it.

Network (OSC listen address and port, reply port, push target), MIDI (inputs, clock), audio (device,
gain), tempo (BPM, Ableton Link, cue quantise and look-ahead), recordings folder, command log (a
replayable log of the show, written when it stops), performance (low-latency mode, preview path).
:meth:`SettingsDialog.values` returns a :class:`SettingsChoice`; the window saves it (atomically, in
``ui-settings.json``) and applies the control settings and the command log live (only the changed part
restarts). The same settings exist as flags on ``sfe-live`` and ``sfe-live run`` (flags win over saved
values for that run).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QTabWidget,
                               QVBoxLayout, QWidget)

from sfe_live.controls.settings import ControlSettings

from . import theme

HOSTS = (("127.0.0.1", "this computer only"), ("0.0.0.0", "every network (TouchDesigner on another machine)"))
QUANTIZE = ("list default", "none", "beat", "bar")
PREVIEW = ("auto", "gl", "raster")


@dataclass(frozen=True)
class SettingsChoice:
    controls: dict[str, Any]        # ControlSettings fields as edited
    record_dir: str                 # "" = the default folder
    low_latency: bool
    preview_path: str
    command_log: str = ""           # "" = no command log


def check_host(text: str) -> Optional[str]:
    """None if ``text`` is an IP address OSC can listen on, else a one-line reason."""
    try:
        ipaddress.ip_address(text.strip())
        return None
    except ValueError:
        return f"'{text}' is not an IP address (127.0.0.1 = this computer, 0.0.0.0 = every network)"


def check_log_path(text: str) -> Optional[str]:
    """None if the command log can be written at ``text`` (empty: no log), else a one-line reason."""
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if path.is_dir():
        return f"command log {path} is a folder: give a file name, e.g. {path / 'show.jsonl'}"
    if not path.parent.is_dir():
        return f"command log: the folder {path.parent} does not exist"
    return None


def check_host_port(text: str) -> Optional[str]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return f"push target '{text}' must be HOST:PORT, e.g. 127.0.0.1:9000"
    return check_host(host) if host else None


class SettingsDialog(QDialog):
    def __init__(self, controls: ControlSettings, record_dir: str, low_latency: bool, preview_path: str,
                 audio_devices: Sequence[str] = (), default_record_dir: str = "", command_log: str = "",
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._base = controls
        c = controls
        tabs = QTabWidget()

        # -- network
        self.osc_enabled = QCheckBox("Listen for OSC")
        self.osc_enabled.setChecked(c.osc_enabled)
        self.osc_host = QComboBox()
        self.osc_host.setEditable(True)
        for host, what in HOSTS:
            self.osc_host.addItem(host)
            self.osc_host.setItemData(self.osc_host.count() - 1, what, 3)   # tooltip role
        self.osc_host.setCurrentText(c.osc_host)
        self.host_hint = QLabel("")
        self.host_hint.setProperty("role", "caption")
        self.osc_host.currentTextChanged.connect(self._host_hint)
        self.osc_port = _spin(1, 65535, c.osc_port)
        self.osc_reply_port = _spin(0, 65535, c.osc_reply_port or 0)
        self.osc_reply_port.setSpecialValueText("the asker's port")
        self.osc_push = QLineEdit(c.osc_push or "")
        self.osc_push.setPlaceholderText("HOST:PORT — push every state change (empty: off)")
        self._tab(tabs, "Network", [("", self.osc_enabled), ("Listen on", self.osc_host), ("", self.host_hint),
                                    ("Port", self.osc_port), ("Replies to", self.osc_reply_port),
                                    ("Push to", self.osc_push)])
        # -- MIDI
        self.midi_enabled = QCheckBox("MIDI input")
        self.midi_enabled.setChecked(c.midi_enabled)
        self.midi_inputs = QLineEdit(", ".join(c.midi_inputs or []))
        self.midi_inputs.setPlaceholderText("every port (or parts of port names, comma separated)")
        self.midi_clock = QCheckBox("Follow MIDI clock")
        self.midi_clock.setChecked(c.midi_clock)
        self._tab(tabs, "MIDI", [("", self.midi_enabled), ("Ports", self.midi_inputs), ("", self.midi_clock)])
        # -- audio
        self.audio_enabled = QCheckBox("Audio reactivity")
        self.audio_enabled.setChecked(c.audio_enabled)
        self.audio_device = QComboBox()
        self.audio_device.setEditable(True)
        self.audio_device.addItem("")
        self.audio_device.addItems(list(audio_devices))
        self.audio_device.setCurrentText("" if c.audio_device is None else str(c.audio_device))
        self.audio_device.lineEdit().setPlaceholderText("the default input")
        self.audio_gain = QDoubleSpinBox()
        self.audio_gain.setRange(-24.0, 24.0)
        self.audio_gain.setSuffix(" dB")
        self.audio_gain.setValue(c.audio_gain_db)
        self._tab(tabs, "Audio", [("", self.audio_enabled), ("Device", self.audio_device),
                                  ("Gain", self.audio_gain)])
        # -- tempo
        self.bpm = QDoubleSpinBox()
        self.bpm.setRange(20.0, 999.0)
        self.bpm.setDecimals(1)
        self.bpm.setValue(c.bpm)
        self.link = QCheckBox("Ableton Link (tempo and phase from the band's session)")
        self.link.setChecked(c.link)
        self.quantize = QComboBox()
        self.quantize.addItems(list(QUANTIZE))
        self.quantize.setCurrentText(c.quantize or "list default")
        self.lookahead = _spin(0, 1000, int(round(c.lookahead_ms)))
        self.lookahead.setSuffix(" ms")
        self._tab(tabs, "Tempo", [("Default BPM", self.bpm), ("", self.link), ("Quantise cue GO", self.quantize),
                                  ("GO look-ahead", self.lookahead)])
        # -- recordings and performance
        self.record_dir = QLineEdit(record_dir)
        self.record_dir.setPlaceholderText(default_record_dir or "your video folder")
        row = _path_row(self.record_dir, self._browse)
        self.command_log = QLineEdit(command_log)
        self.command_log.setPlaceholderText("none — e.g. ~/shows/tonight.jsonl")
        self.command_log.setToolTip("Every command of the show from its start, written here when the show "
                                    "stops; sfe-live render --replay FILE renders it again frame for frame")
        log_row = _path_row(self.command_log, self._browse_log)
        log_hint = QLabel("Written when the show stops, from the show's start (also when set during it).\n"
                          "Replay: sfe-live render --replay FILE")
        log_hint.setProperty("role", "caption")
        log_hint.setWordWrap(True)
        self.low_latency = QCheckBox("Low latency (next model load)")
        self.low_latency.setToolTip("1 latent frame per block and a minimal playout buffer: about 0.2 s "
                                    "from a control to the screen instead of about 0.6 s, at some cost in fps")
        self.low_latency.setChecked(low_latency)
        self.preview_path = QComboBox()
        self.preview_path.addItems(list(PREVIEW))
        self.preview_path.setCurrentText(preview_path if preview_path in PREVIEW else "auto")
        self._tab(tabs, "Outputs && performance", [("Recordings", row), ("Command log", log_row),
                                                   ("", log_hint), ("", self.low_latency),
                                                   ("Preview (next start)", self.preview_path)])

        lay = QVBoxLayout(self)
        lay.addWidget(tabs)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.BAD};")
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._host_hint(self.osc_host.currentText())

    @staticmethod
    def _tab(tabs: QTabWidget, title: str, rows: list[tuple[str, QWidget]]) -> None:
        page = QWidget()
        form = QFormLayout(page)
        for label, w in rows:
            form.addRow(label, w)
        tabs.addTab(page, title)

    def _host_hint(self, text: str) -> None:
        local = text.strip() in ("127.0.0.1", "::1", "localhost")
        self.host_hint.setText("only programs on this computer" if local else
                               "reachable from other machines: anyone on the network can send commands")
        self.host_hint.setStyleSheet("" if local else f"color: {theme.WARN};")

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Recordings folder", self.record_dir.text())
        if path:
            self.record_dir.setText(path)

    def _browse_log(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Command log", self.command_log.text() or "show.jsonl",
                                              "Command logs (*.jsonl)")
        if path:
            self.command_log.setText(path)

    def problems(self) -> list[str]:
        out = []
        if (msg := check_log_path(self.command_log.text())) is not None:
            out.append(msg)
        if (msg := check_host(self.osc_host.currentText())) is not None:
            out.append(msg)
        if self.osc_push.text().strip() and (msg := check_host_port(self.osc_push.text())) is not None:
            out.append(msg)
        return out

    def _accept(self) -> None:
        problems = self.problems()
        if problems:
            self.error.setText("\n".join(problems))
            return
        self.accept()

    def values(self) -> SettingsChoice:
        dev = self.audio_device.currentText().strip()
        q = self.quantize.currentText()
        inputs = [p.strip() for p in self.midi_inputs.text().split(",") if p.strip()]
        controls = dataclasses.asdict(dataclasses.replace(
            self._base,
            osc_enabled=self.osc_enabled.isChecked(), osc_host=self.osc_host.currentText().strip(),
            osc_port=self.osc_port.value(), osc_reply_port=self.osc_reply_port.value() or None,
            osc_push=self.osc_push.text().strip() or None,
            midi_enabled=self.midi_enabled.isChecked(), midi_inputs=inputs or None,
            midi_clock=self.midi_clock.isChecked(),
            audio_enabled=self.audio_enabled.isChecked(),
            audio_device=(int(dev) if dev.isdigit() else dev) if dev else None,
            audio_gain_db=float(self.audio_gain.value()),
            bpm=float(self.bpm.value()), link=self.link.isChecked(),
            quantize=None if q == "list default" else q, lookahead_ms=float(self.lookahead.value())))
        log = self.command_log.text().strip()
        return SettingsChoice(controls=controls, record_dir=self.record_dir.text().strip(),
                              low_latency=self.low_latency.isChecked(),
                              preview_path=self.preview_path.currentText(),
                              command_log=str(Path(log).expanduser()) if log else "")


def saved_controls(controls: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that differ from the defaults (what goes into the settings file)."""
    defaults = dataclasses.asdict(ControlSettings())
    keep = {"osc_enabled", "osc_host", "osc_port", "osc_reply_port", "osc_push", "midi_enabled", "midi_inputs",
            "midi_clock", "audio_enabled", "audio_device", "audio_gain_db", "bpm", "link", "quantize",
            "lookahead_ms"}
    return {k: v for k, v in controls.items() if k in keep and v != defaults.get(k)}


def _path_row(edit: QLineEdit, browse: Callable[[], None]) -> QWidget:
    """A path field with its Browse… button on one row."""
    button = QPushButton("Browse…")
    button.clicked.connect(browse)
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    return s
