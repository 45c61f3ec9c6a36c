"""Easel's PySide6 desktop app: views over core."""
