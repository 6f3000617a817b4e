"""The audience window: the same frames as the preview, fullscreen on a chosen screen.

Borderless, black, no cursor, no overlay text. F11 (or the menu / ``output.fullscreen``)
toggles it; Esc closes it unless the performance lock is on, in which case it asks first (a
stray key must not end the show). The main window keeps its own preview running.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QCursor, QGuiApplication, QKeyEvent, QScreen
from PySide6.QtWidgets import QVBoxLayout, QWidget

from .preview import make_preview

log = logging.getLogger(__name__)


def find_screen(name: str) -> QScreen:
    """The screen called ``name``; else the last one (usually the projector); else the primary."""
    screens = QGuiApplication.screens()
    for s in screens:
        if s.name() == name:
            return s
    return screens[-1] if screens else QGuiApplication.primaryScreen()


class OutputWindow(QWidget):
    """A top-level, frameless window holding one preview widget."""

    def __init__(self, path: str, confirm_close: Callable[[], bool], on_closed: Callable[[], None]) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle("sfe-live output")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.setStyleSheet("background: black;")
        self.setCursor(QCursor(Qt.CursorShape.BlankCursor))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.preview = make_preview(path, self)
        self.preview.setCursor(QCursor(Qt.CursorShape.BlankCursor))
        self.preview.has_frame = True        # no "waiting" text on the audience's screen
        lay.addWidget(self.preview)
        self._confirm_close = confirm_close
        self._on_closed = on_closed
        self.screen_name = ""

    def show_on(self, screen: QScreen) -> None:
        self.screen_name = screen.name()
        if self.isVisible() and self.screen() is not screen:
            self.hide()
        self.setScreen(screen)
        self.setGeometry(screen.geometry())
        self.showFullScreen()
        log.info("output window on screen %s (%dx%d)", screen.name(), screen.geometry().width(),
                 screen.geometry().height())

    def set_frame(self, frame: np.ndarray, seq: int) -> None:
        if self.isVisible():
            self.preview.set_frame(frame, seq)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt name
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        if not self._confirm_close():
            event.ignore()
            return
        event.accept()
        self._on_closed()
