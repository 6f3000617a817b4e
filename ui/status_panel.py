"""What the generator is doing, readable from a metre away.

Two big numbers (generated vs displayed fps against the model's 16) and a grid of details:
block time, time to the next block, command queue, playout buffer and its health, memory,
model, drift statistics and the GUI's own timer lateness. Fed by :meth:`StatusPanel.show_status`
with the plain dict from ``App.status()`` plus the GUI's meters.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .meters import LatencyStats
from .theme import set_state

ROWS = (("block", "Block time"), ("next", "Next block in"), ("queue", "Command queue"),
        ("buffer", "Playout buffer"), ("glitches", "Underruns / repeats"), ("kv", "KV cache"),
        ("ram", "RAM"), ("vram", "VRAM"), ("model", "Model"), ("drift", "Drift"), ("controls", "Controls"), ("tempo", "Tempo"), ("gui", "GUI timer late"),
        ("preview", "Preview"), ("remote", "Remote link"))


def _fmt_params(n: Any) -> str:
    try:
        n = float(n)
    except (TypeError, ValueError):
        return "?"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}" if n < 100 * div else f"{n / div:.0f}{unit}"
    return f"{int(n)}"


class _BigNumber(QFrame):
    def __init__(self, caption: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        cap = QLabel(caption)
        cap.setProperty("role", "heading")
        self.value = QLabel("—")
        self.value.setProperty("role", "big")
        self.sub = QLabel("")
        self.sub.setProperty("role", "caption")
        lay.addWidget(cap)
        lay.addWidget(self.value)
        lay.addWidget(self.sub)


class StatusPanel(QFrame):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "panel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 12)
        lay.setSpacing(8)
        top = QHBoxLayout()
        self.generated = _BigNumber("GENERATED FPS")
        self.displayed = _BigNumber("DISPLAYED FPS")
        top.addWidget(self.generated)
        top.addWidget(self.displayed)
        lay.addLayout(top)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        self.values: dict[str, QLabel] = {}
        for i, (key, title) in enumerate(ROWS):
            cap = QLabel(title)
            cap.setProperty("role", "caption")
            val = QLabel("—")
            val.setProperty("role", "value")
            grid.addWidget(cap, i, 0)
            grid.addWidget(val, i, 1)
            self.values[key] = val
        grid.setColumnStretch(1, 1)
        lay.addLayout(grid)
        lay.addStretch(1)

    def _set(self, key: str, text: str, state: str = "") -> None:
        lab = self.values[key]
        if lab.text() != text:
            lab.setText(text)
        set_state(lab, state)

    def show_status(self, status: Mapping[str, Any], *, eta: Optional[float] = None,
                    gui: Optional[LatencyStats] = None, shown_fps: Optional[float] = None,
                    preview: str = "", vram: str = "") -> None:
        eng: Mapping[str, Any] = status.get("engine") or {}
        outs: Mapping[str, Any] = status.get("outputs") or {}
        play: Mapping[str, Any] = outs.get("playout") or {}
        model: Mapping[str, Any] = status.get("model") or {}
        target = float(eng.get("fps_target") or play.get("fps") or 16)

        gen = float(eng.get("fps") or 0.0)
        self.generated.value.setText(f"{gen:5.1f}")
        set_state(self.generated.value, "" if not eng.get("running") else ("ok" if gen >= target * 0.98 else
                                                                           "warn" if gen >= target * 0.6 else "bad"))
        self.generated.sub.setText("paused" if eng.get("paused") else f"target {target:g}")
        disp = float(play.get("displayed_fps") or 0.0)
        self.displayed.value.setText(f"{disp:5.1f}")
        set_state(self.displayed.value, "ok" if abs(disp - target) < 1.0 else ("warn" if disp > 0 else ""))
        content = float(play.get("content_fps") or disp)
        paced = f"new {content:.1f} · " if content < disp - 0.5 else ""
        self.displayed.sub.setText(paced + (f"preview {shown_fps:.1f}" if shown_fps is not None else ""))

        if eng:
            self._set("block", f"{float(eng.get('block_ms', 0)):.0f} ms  (decode {float(eng.get('decode_ms', 0)):.0f})")
            self._set("queue", f"{int(eng.get('queue_depth', 0))} pending", "warn" if eng.get("queue_depth") else "")
            self._set("kv", f"{int(eng.get('kv_frames', 0))} fr · blk {int(eng.get('block', 0))} · "
                            f"{int(eng.get('purges', 0))} purges")
            self._set("ram", f"{float(eng.get('rss_mb', 0)):.0f} MB")
            drift = "off"
            if eng.get("drift_guard"):
                drift = f"Δ {float(eng.get('drift_deviation', 0)):.3f} · {int(eng.get('drift_triggers', 0))} fired"
            elif eng.get("drift"):
                drift = f"Δ {float(eng.get('drift_deviation', 0)):.3f} (guard off)"
            self._set("drift", drift)
        if eta is None:
            self._set("next", "—")
        else:
            self._set("next", "paused" if eng.get("paused") else f"{eta * 1000:.0f} ms")
        if play:
            state = play.get("state")
            state = str(getattr(state, "value", state))
            health = "ok" if state == "playing" else state
            self._set("buffer", f"{int(play.get('depth', 0))} fr · {float(play.get('latency_s', 0)):.2f} s · {health}",
                      "ok" if health == "ok" else "warn")
            still = int(play.get("longest_still") or 0)
            self._set("glitches", f"{int(play.get('underruns', 0))} / {int(play.get('repeats', 0))}"
                                  + (f" · still {still}" if still > 1 else ""),
                      "warn" if play.get("underruns") else "")
        if model:
            dtype = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}.get(str(model.get("dtype")),
                                                                                   str(model.get("dtype", "")))
            name = str(model.get("name", "?"))
            name = name if len(name) <= 22 else name[:21] + "…"
            self._set("model", f"{name} · {_fmt_params(model.get('dit_parameters'))} · {model.get('device', '?')} "
                               f"{dtype}")
        self._set("vram", vram or "—")
        ctl: Mapping[str, Any] = status.get("controls") or {}
        if ctl:
            osc = ctl.get("osc") or {}
            midi = ctl.get("midi") or {}
            parts = [f"OSC :{osc.get('port')}" if osc.get("running") else "OSC off",
                     f"MIDI {len(midi.get('inputs') or [])} in" if midi.get("ok") else "MIDI off"]
            self._set("controls", " · ".join(parts), "warn" if (ctl.get("errors") or {}).get("osc") else "")
            tempo = ctl.get("tempo") or {}
            if tempo:
                self._set("tempo", f"{float(tempo.get('bpm', 0)):.1f} bpm · {tempo.get('bar', '?')}."
                                   f"{tempo.get('beat', '?')} · {tempo.get('tempo_source', '')}")
        if gui is not None and gui.count:
            self._set("gui", f"p95 {gui.p95_ms:.1f} · max {gui.max_ms:.0f} ms",
                      "ok" if gui.p95_ms < 16 else "warn")
        self._set("preview", preview or "—")
        remote: Mapping[str, Any] = status.get("remote") or {}
        if remote:
            state = str(remote.get("state", "?"))
            self._set("remote", f"{state} · RTT {float(remote.get('rtt_ms', 0)):.0f} ms "
                                f"±{float(remote.get('jitter_ms', 0)):.0f} · {int(remote.get('dropped', 0))} lost",
                      "ok" if state == "connected" else "warn")
            self.values["remote"].setToolTip(f"round-trip time, frame jitter, frames lost on the way; video "
                                             f"{float(remote.get('kbps', 0)):.0f} kbps; {remote.get('url', '')}")
