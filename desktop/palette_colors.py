"""Accent and warning colours derived from a widget's palette, readable on dark and light backgrounds."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

_FALLBACK_HUE = 210  # blue, when the palette's accents are grey
_WARNING_HUE = 28  # orange: reads as "careful" in both modes without the alarm of red


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Base).lightnessF() < 0.5


def accent_hue(palette: QPalette) -> int:
    """The hue of the palette's link colour, or of its selection colour when links are grey."""
    for role in (QPalette.ColorRole.Link, QPalette.ColorRole.Highlight):
        color = palette.color(role)
        if color.hslSaturationF() > 0.2 and color.hslHue() >= 0:
            return color.hslHue()
    return _FALLBACK_HUE


def readable(palette: QPalette, hue: int, saturation: float = 0.65) -> QColor:
    """A colour of `hue` light enough on a dark base, dark enough on a light one."""
    lightness = 0.72 if is_dark(palette) else 0.36
    return QColor.fromHslF((hue % 360) / 360.0, saturation, lightness)


def accent(palette: QPalette, hue_offset: int = 0) -> QColor:
    """The palette's accent, or a sibling of it `hue_offset` degrees around the colour wheel."""
    return readable(palette, accent_hue(palette) + hue_offset)


def warning(palette: QPalette) -> QColor:
    return readable(palette, _WARNING_HUE, saturation=0.85)


def mix(first: QColor, second: QColor, amount: float) -> QColor:
    """`first` moved `amount` (0..1) of the way towards `second`."""
    keep = 1.0 - amount
    return QColor.fromRgbF(
        first.redF() * keep + second.redF() * amount,
        first.greenF() * keep + second.greenF() * amount,
        first.blueF() * keep + second.blueF() * amount,
    )


def dimmed_text(palette: QPalette, amount: float = 0.45) -> QColor:
    """Text colour faded towards the background: present but quiet."""
    return mix(palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base), amount)


def tint(color: QColor, alpha: float) -> QColor:
    """`color` as a translucent background wash."""
    washed = QColor(color)
    washed.setAlphaF(max(0.0, min(1.0, alpha)))
    return washed
