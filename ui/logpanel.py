"""Errors and messages in the window, never only on the console.

* :class:`QueueLogHandler` is a ``logging.Handler`` that any thread may log into: it only appends
  to a bounded deque under a lock. The GUI drains it on its timer (no Qt calls from workers).
* :class:`ErrorBanner` is the strip under the header: the newest warning/error (or an app
  message) with a Dismiss button; info messages fade after a few seconds.
* :class:`LogPanel` keeps the last 1,000 lines, coloured by level.
"""

from __future__ import annotations

import collections
import html
import logging
import threading
import time
from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QWidget

from . import theme


@dataclass(frozen=True)
class LogLine:
    level: int
    t: float
    name: str
    text: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class QueueLogHandler(logging.Handler):
    """Collects log records from any thread for the GUI to drain."""

    def __init__(self, level: int = logging.INFO, maxlen: int = 2000) -> None:
        super().__init__(level)
        self._lines: collections.deque[LogLine] = collections.deque(maxlen=maxlen)
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            line = LogLine(record.levelno, record.created, record.name, text)
        except Exception:  # pragma: no cover - formatting errors must not propagate
            return
        with self._lock2:
            self._lines.append(line)

    def drain(self) -> list[LogLine]:
        with self._lock2:
            out = list(self._lines)
            self._lines.clear()
        return out


class ErrorBanner(QFrame):
    """A coloured strip with the newest problem; hidden when there is none."""

    INFO_SECONDS = 6.0

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setProperty("level", "info")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        self.icon = QLabel("")
        self.icon.setStyleSheet("font-weight: 800;")
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_label = QLabel("")
        self.count_label.setProperty("role", "caption")
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.dismiss.clicked.connect(self.clear)
        lay.addWidget(self.icon)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.count_label)
        lay.addWidget(self.dismiss)
        self.level = ""
        self.text = ""
        self.count = 0
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.timeout.connect(self._auto_hide)
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        """level: "error" | "warning" | "info". An info never hides a pending error."""
        rank = {"info": 0, "warning": 1, "error": 2}
        if self.isVisible() and rank.get(level, 0) < rank.get(self.level, 0):
            return
        self.count = self.count + 1 if (self.isVisible() and level == self.level and text == self.text) else 1
        self.level, self.text = level, text
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.icon.setText({"error": "ERROR", "warning": "WARNING", "info": "INFO"}.get(level, ""))
        self.icon.setStyleSheet(f"font-weight: 800; color: "
                                f"{ {'error': theme.BAD, 'warning': theme.WARN}.get(level, theme.NEXT) };")
        self.label.setText(text)
        self.count_label.setText(f"×{self.count}" if self.count > 1 else "")
        self.show()
        if level == "info":
            self._hide_timer.start(int(self.INFO_SECONDS * 1000))
        else:
            self._hide_timer.stop()

    def _auto_hide(self) -> None:
        if self.level == "info":
            self.clear()

    def clear(self) -> None:
        self.level, self.text, self.count = "", "", 0
        self.hide()


class LogPanel(QPlainTextEdit):
    """Read-only log view (last 1,000 lines)."""

    COLORS = {logging.ERROR: theme.BAD, logging.CRITICAL: theme.BAD, logging.WARNING: theme.WARN,
              logging.INFO: theme.TEXT, logging.DEBUG: theme.DIM}

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(1000)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setStyleSheet("font-family: 'DejaVu Sans Mono', monospace; font-size: 9pt;")
        self.lines = 0

    def add(self, line: LogLine) -> None:
        color = self.COLORS.get(line.level, theme.TEXT)
        stamp = time.strftime("%H:%M:%S", time.localtime(line.t))
        self.appendHtml(f'<span style="color:{theme.DIM}">{stamp}</span> '
                        f'<span style="color:{color}">{html.escape(line.level_name[:4])} '
                        f'{html.escape(line.text)}</span>')
        self.lines += 1
