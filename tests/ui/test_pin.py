"""PySide6 6.12.0 on Python 3.11 corrupts the refcount of None on every void Qt call and aborts after
~5,000 calls (`Fatal Python error: none_dealloc`). The pin (<6.12 on 3.11) keeps this test alive."""

import sys

import PySide6
from PySide6.QtWidgets import QWidget


def test_pyside_version_is_pinned_on_py311() -> None:
    major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
    if sys.version_info[:2] == (3, 11):
        assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__} crashes on Python 3.11; pin <6.12"


def test_update_20000_times(qtbot) -> None:  # type: ignore[no-untyped-def]
    w = QWidget()
    qtbot.addWidget(w)
    before = sys.getrefcount(None)
    for _ in range(20_000):
        w.update()
    after = sys.getrefcount(None)
    assert after >= before - 100, f"refcount of None dropped from {before} to {after}"
