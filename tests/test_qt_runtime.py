"""The Qt binding must not corrupt Python's reference counts: PySide6 6.12.0 aborts Python 3.11 apps."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QTimer  # noqa: E402


def test_void_qt_calls_keep_the_reference_count_of_none(qapp):
    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(1000):
        timer.start()
        timer.stop()
    # Below Python 3.12 None is not immortal: a binding that drops a reference per call ends the app
    # with "Fatal Python error: none_dealloc" after a few thousand calls.
    assert abs(sys.getrefcount(None) - before) < 50
