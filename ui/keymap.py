"""QKeyEvent -> the controls' key names (``"Ctrl+Shift+P"``, ``"Space"``, ``"F11"``, ``"1"``).

The core's :mod:`sfe_live.controls.keys` spells keys as Qt does without ``Key_`` and with the
modifiers in the order Ctrl, Alt, Shift, Meta. This module is the only place that knows
Qt's key codes; everything after it is data (``KeyMap.handle(name)``).
"""

from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

log = logging.getLogger(__name__)

_MODIFIER_KEYS = {Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Shift, Qt.Key.Key_Meta,
                  Qt.Key.Key_AltGr, Qt.Key.Key_Super_L, Qt.Key.Key_Super_R, Qt.Key.Key_Hyper_L,
                  Qt.Key.Key_Hyper_R, Qt.Key.Key_CapsLock, Qt.Key.Key_NumLock}

# Qt names that the core spells differently.
_RENAME = {"Backtab": "Tab", "Escape": "Escape", "Exclam": "1", "At": "2", "NumberSign": "3",
           "Dollar": "4", "Percent": "5", "AsciiCircum": "6", "Ampersand": "7", "ParenLeft": "9",
           "ParenRight": "0", "BraceLeft": "BracketLeft", "BraceRight": "BracketRight",
           "Underscore": "Minus", "Colon": "Semicolon", "QuoteDbl": "Apostrophe", "AsciiTilde": "QuoteLeft",
           "Less": "Comma", "Greater": "Period", "Question": "Slash", "Bar": "Backslash"}
# Shifted symbols ("!" for Shift+1 on a US layout) read as the unshifted key plus Shift. On
# other layouts the symbol differs; the key name still carries the Shift modifier.
_SHIFTED = {k for k in _RENAME if k not in ("Backtab", "Escape")}


def key_name_from(key: int, modifiers: Qt.KeyboardModifier) -> Optional[str]:
    """The key name of a Qt key code plus modifiers; None for bare modifier keys and unknown codes."""
    try:
        qkey = Qt.Key(key)
    except ValueError:
        return None
    if qkey in _MODIFIER_KEYS or qkey == Qt.Key.Key_unknown:
        return None
    name = qkey.name
    if not name.startswith("Key_"):
        return None
    base = name[4:]
    shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
    if base in _SHIFTED or base == "Backtab":
        shift = True
    base = _RENAME.get(base, base)
    if len(base) == 1:
        base = base.upper()
    mods = []
    if modifiers & Qt.KeyboardModifier.ControlModifier:
        mods.append("Ctrl")
    if modifiers & Qt.KeyboardModifier.AltModifier:
        mods.append("Alt")
    if shift:
        mods.append("Shift")
    if modifiers & Qt.KeyboardModifier.MetaModifier:
        mods.append("Meta")
    return "+".join(mods + [base])


def key_name(event: QKeyEvent) -> Optional[str]:
    """The key name of a key event (see :func:`key_name_from`)."""
    return key_name_from(event.key(), event.modifiers())
