"""``run_gui(settings)``: the entry point ``sfe-live`` (no subcommand) calls.

Creates (or reuses) the QApplication, applies the dark theme, loads the GUI settings (a
broken file is set aside with a message), opens :class:`~ui.main_window.MainWindow` and starts
loading the model in the background. Uncaught exceptions on the GUI thread are logged (and so
shown in the window's banner) instead of killing the show. Ctrl-C (SIGINT) and SIGTERM close the
window the clean way (settings saved, engine and outputs stopped), even with the performance lock
on: Python runs the handler on the GUI thread at the window's next timer tick (≤ 16 ms).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Optional

from sfe_live.app import AppSettings, arm_stop_deadline

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

log = logging.getLogger(__name__)


def _install_excepthooks() -> None:
    def hook(exc_type: type[BaseException], exc: BaseException, tb: Optional[TracebackType]) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("unexpected error: %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        log.error("unexpected error in thread %s: %s", getattr(args.thread, "name", "?"), args.exc_value,
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))  # type: ignore[arg-type]

    sys.excepthook = hook
    threading.excepthook = thread_hook


def _install_signal_handlers(qapp: "QApplication", win: "MainWindow") -> dict[int, object]:
    """SIGINT/SIGTERM: shut the window down and leave the event loop (returns the old handlers)."""
    from PySide6.QtCore import QTimer

    def close(signum: int, frame: object) -> None:
        log.info("%s: closing sfe-live", "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
        arm_stop_deadline()

        def quit_now() -> None:
            win.shutdown()
            qapp.quit()
        QTimer.singleShot(0, quit_now)

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, close)
    return old


def run_gui(settings: Optional[AppSettings] = None, argv: Optional[list[str]] = None) -> int:
    """Open the performer's window; returns the Qt exit code."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow  # noqa: F811
    from .settings import SettingsStore
    from .theme import apply_dark_theme

    settings = settings or AppSettings()
    qapp = QApplication.instance()
    if qapp is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        qapp = QApplication(list(argv) if argv is not None else sys.argv[:1])
    qapp.setApplicationName("sfe-live")
    qapp.setOrganizationName("sfe-live")
    apply_dark_theme(qapp)  # type: ignore[arg-type]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _install_excepthooks()

    store = SettingsStore()
    ui_settings, message = store.load()
    if not settings.model and ui_settings.last_model:
        settings = dataclasses.replace(settings, model=ui_settings.last_model,
                                       checkpoint=settings.checkpoint or ui_settings.last_checkpoint or None)
    win = MainWindow(settings, store, ui_settings, message)
    win.show()
    if ui_settings.output_open_on_start:
        win.open_output()
    old = _install_signal_handlers(qapp, win)  # type: ignore[arg-type]
    try:
        code = qapp.exec()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
    win.shutdown()
    return int(code)


if __name__ == "__main__":  # pragma: no cover - `python -m ui.main [model]`
    model = sys.argv[1] if len(sys.argv) > 1 else ""
    raise SystemExit(run_gui(AppSettings(model=model)))
