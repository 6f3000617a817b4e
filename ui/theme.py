"""The dark stage theme: Fusion style, a near-black palette and one stylesheet.

Dark greys so the preview is the brightest thing in the room; one accent (amber) for what is
live, red for PURGE and errors, green for healthy. Widgets pick their role with
``setObjectName`` or the ``role`` dynamic property (``"big"``, ``"value"``, ``"caption"``...).
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BG = "#121316"
PANEL = "#1a1c21"
RAISED = "#23262d"
BORDER = "#2e323b"
TEXT = "#d8dbe2"
DIM = "#8a909c"
ACCENT = "#ffb02e"      # live / current
NEXT = "#3d8bfd"        # next cue
GOOD = "#3ccf7a"
WARN = "#ffcc33"
BAD = "#ff4d4f"
PURGE = "#e5484d"

STYLE = f"""
QWidget {{ background: {BG}; color: {TEXT}; font-size: 10pt; }}
QMainWindow::separator, QSplitter::handle {{ background: {BORDER}; }}
QSplitter::handle:horizontal {{ width: 3px; }}
QSplitter::handle:vertical {{ height: 3px; }}
QFrame[role="panel"] {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 6px; }}
QFrame[role="panel"] QLabel, QFrame[role="panel"] QCheckBox {{ background: transparent; }}
QLabel[role="heading"] {{ color: {DIM}; font-size: 8pt; font-weight: 600; letter-spacing: 1px; }}
QLabel[role="caption"] {{ color: {DIM}; font-size: 8pt; }}
QLabel[role="value"] {{ color: {TEXT}; font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; }}
QLabel[role="big"] {{ color: {TEXT}; font-family: "DejaVu Sans Mono", monospace; font-size: 20pt;
                      font-weight: 600; }}
QLabel[role="badge"] {{ border-radius: 4px; padding: 2px 8px; font-weight: 700; font-size: 8pt;
                        background: {RAISED}; color: {DIM}; }}
QLabel[state="ok"] {{ color: {GOOD}; }}
QLabel[state="warn"] {{ color: {WARN}; }}
QLabel[state="bad"] {{ color: {BAD}; }}
QLabel[role="badge"][state="live"] {{ background: {ACCENT}; color: #111; }}
QLabel[role="badge"][state="locked"] {{ background: {BAD}; color: #fff; }}
QLabel[role="badge"][state="ok"] {{ background: #1f3b2b; color: {GOOD}; }}
QLabel[role="badge"][state="warn"] {{ background: #3b331a; color: {WARN}; }}
QPushButton, QToolButton {{ background: {RAISED}; border: 1px solid {BORDER}; border-radius: 5px;
                            padding: 5px 10px; color: {TEXT}; }}
QPushButton:hover, QToolButton:hover {{ border-color: {DIM}; }}
QPushButton:pressed, QToolButton:pressed {{ background: #30343d; }}
QPushButton:checked, QToolButton:checked {{ background: {ACCENT}; color: #111; border-color: {ACCENT};
                                            font-weight: 700; }}
QPushButton:disabled, QToolButton:disabled {{ color: #555a64; background: #1b1d22; }}
QPushButton#purge {{ background: {PURGE}; color: #fff; font-size: 22pt; font-weight: 800;
                     letter-spacing: 3px; border: 2px solid #ff7a7d; border-radius: 8px; }}
QPushButton#purge:pressed {{ background: #b3262b; }}
QPushButton#go {{ background: {ACCENT}; color: #111; font-size: 14pt; font-weight: 800; border: none; }}
QPushButton#rec:checked {{ background: {BAD}; color: #fff; border-color: {BAD}; }}
QPushButton#go:pressed {{ background: #d68c10; }}
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox, QPlainTextEdit, QTextEdit {{
    background: #0d0e10; border: 1px solid {BORDER}; border-radius: 4px; padding: 4px 6px;
    selection-background-color: {NEXT}; }}
QLineEdit:focus, QPlainTextEdit:focus {{ border-color: {ACCENT}; }}
QLineEdit#prompt {{ font-size: 14pt; padding: 8px 10px; }}
QComboBox QAbstractItemView {{ background: {PANEL}; selection-background-color: {NEXT}; }}
QSlider::groove:horizontal {{ height: 6px; background: #0d0e10; border-radius: 3px; }}
QSlider::sub-page:horizontal {{ background: {ACCENT}; border-radius: 3px; }}
QSlider::handle:horizontal {{ background: {TEXT}; width: 14px; margin: -6px 0; border-radius: 7px; }}
QTableView, QTableWidget, QListWidget {{ background: #0f1013; alternate-background-color: #15171b;
    gridline-color: {BORDER}; border: 1px solid {BORDER}; border-radius: 4px; }}
QHeaderView::section {{ background: {PANEL}; color: {DIM}; border: none; border-bottom: 1px solid {BORDER};
                        padding: 4px; font-size: 8pt; font-weight: 600; }}
QTabWidget::pane {{ border: 1px solid {BORDER}; border-radius: 4px; top: -1px; }}
QTabBar::tab {{ background: {PANEL}; color: {DIM}; padding: 6px 14px; border: 1px solid {BORDER};
                border-bottom: none; border-top-left-radius: 4px; border-top-right-radius: 4px; }}
QTabBar::tab:selected {{ color: {TEXT}; background: {RAISED}; }}
QMenuBar {{ background: {PANEL}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: {RAISED}; }}
QMenu {{ background: {PANEL}; border: 1px solid {BORDER}; }}
QStatusBar {{ background: {PANEL}; color: {DIM}; }}
QProgressBar {{ background: #0d0e10; border: 1px solid {BORDER}; border-radius: 4px; text-align: center;
                height: 14px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QFrame#banner {{ border-radius: 5px; }}
QFrame#banner[level="error"] {{ background: #4a1517; border: 1px solid {BAD}; }}
QFrame#banner[level="warning"] {{ background: #43381a; border: 1px solid {WARN}; }}
QFrame#banner[level="info"] {{ background: #16283f; border: 1px solid {NEXT}; }}
QFrame#banner QLabel {{ background: transparent; }}
QRadioButton::indicator, QCheckBox::indicator {{ width: 12px; height: 12px; border: 2px solid {DIM};
    background: #0d0e10; }}
QRadioButton::indicator {{ border-radius: 8px; }}
QCheckBox::indicator {{ border-radius: 3px; }}
QRadioButton::indicator:checked, QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QRadioButton:disabled, QCheckBox:disabled {{ color: #555a64; }}
QSpinBox:disabled, QDoubleSpinBox:disabled, QComboBox:disabled, QLineEdit:disabled {{ color: #555a64;
    background: #15171b; }}
QDialogButtonBox {{ dialogbuttonbox-buttons-have-icons: 0; }}
QToolTip {{ background: {RAISED}; color: {TEXT}; border: 1px solid {BORDER}; }}
"""


def apply_dark_theme(app: QApplication) -> None:
    """Fusion + the dark palette + :data:`STYLE` on the whole application."""
    app.setStyle("Fusion")
    pal = QPalette()
    for role, color in ((QPalette.ColorRole.Window, BG), (QPalette.ColorRole.WindowText, TEXT),
                        (QPalette.ColorRole.Base, "#0d0e10"), (QPalette.ColorRole.AlternateBase, PANEL),
                        (QPalette.ColorRole.Text, TEXT), (QPalette.ColorRole.Button, RAISED),
                        (QPalette.ColorRole.ButtonText, TEXT), (QPalette.ColorRole.Highlight, NEXT),
                        (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, RAISED),
                        (QPalette.ColorRole.ToolTipText, TEXT), (QPalette.ColorRole.PlaceholderText, DIM),
                        (QPalette.ColorRole.Light, "#4a505c"), (QPalette.ColorRole.Midlight, "#3a3f4a"),
                        (QPalette.ColorRole.Mid, "#343943"), (QPalette.ColorRole.Dark, "#2a2e36"),
                        (QPalette.ColorRole.Shadow, "#000000")):
        pal.setColor(role, QColor(color))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#555a64"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#555a64"))
    app.setPalette(pal)
    font = QFont(app.font())
    font.setPointSize(10)
    app.setFont(font)
    app.setStyleSheet(STYLE)


def set_state(widget, state: str) -> None:  # type: ignore[no-untyped-def]
    """Set the ``state`` property (ok / warn / bad / live / locked / "") and re-polish."""
    if widget.property("state") == state:
        return
    widget.setProperty("state", state)
    st = widget.style()
    st.unpolish(widget)
    st.polish(widget)
