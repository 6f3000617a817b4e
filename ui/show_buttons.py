"""The show row in the window's header: Record, Blackout and Freeze as buttons that show the real state.

Each button triggers the same named action as the keys, MIDI and OSC (``record.toggle``, ``blackout``,
``freeze``) and never keeps focus. Its checked state is read back from the app on every status pull:
Record from the recording sink's actual state (so a failed recorder shows off, with the reason in the
tooltip), Blackout and Freeze from the app. A click changes nothing locally: the next pull shows
what really happened.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

RECORD_SINK = "record"


class ShowButtons(QWidget):
    def __init__(self, trigger: Callable[[str, Any], Any], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._trigger = trigger
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.record = self._button("● REC", "record.toggle", "Record every output frame to MP4  [Ctrl+R]")
        self.blackout = self._button("BLACKOUT", "blackout", "Black on every output at once  [B]")
        self.freeze = self._button("FREEZE", "freeze", "Hold the current frame on every output  [F]")
        self.record.setObjectName("rec")
        for b in (self.record, self.blackout, self.freeze):
            lay.addWidget(b)

    def _button(self, text: str, action: str, tip: str) -> QPushButton:
        b = QPushButton(text)
        b.setCheckable(True)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.setToolTip(tip)
        b.setProperty("tip", tip)
        # a click asks for the opposite of what is shown; the state shown comes back from the app
        b.clicked.connect(lambda checked, a=action: self._trigger(a, bool(checked)))
        return b

    def sync(self, status: Mapping[str, Any], blackout: bool, frozen: bool) -> None:
        """``status`` is ``App.status()``; ``blackout``/``frozen`` the app's flags."""
        sinks = {s.get("name"): s for s in (status.get("outputs") or {}).get("sinks", ())}
        rec = sinks.get(RECORD_SINK)
        recording = rec is not None and str(rec.get("state", "")).lower().endswith(("running", "starting", "stalled"))
        tip = str(self.record.property("tip"))
        if rec is not None and rec.get("error"):
            tip += f"\nlast error: {rec['error']}"
        elif recording:
            tip += f"\n{int(rec.get('sent', 0))} frames written"
        self.record.setToolTip(tip)
        for b, on in ((self.record, recording), (self.blackout, blackout), (self.freeze, frozen)):
            if b.isChecked() != on:
                b.blockSignals(True)
                b.setChecked(on)
                b.blockSignals(False)
