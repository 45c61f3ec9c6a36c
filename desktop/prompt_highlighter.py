"""Colours for A1111 prompt syntax, computed over the whole prompt and painted block by block.

A span may cross lines (`(a,\\nb)`) and a bracket typed on one line can balance one on another,
so spans come from the whole document text and every change re-highlights every block;
prompts are short enough for that to stay instant.
"""

from __future__ import annotations

import math
from typing import Sequence

from PySide6.QtGui import QFont, QPalette, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from core.prompts.highlight import Span, prompt_spans
from desktop import palette_colors

EMPHASIS = 1.1
# Hue offsets from the palette accent, so the kinds stay apart whatever the accent is.
_HUE_OFFSETS = {"weight": 110, "lora": -80, "break": -160, "and": 65, "schedule": -35}
# Painted last-to-top: later kinds override earlier ones where spans overlap.
_PAINT_ORDER = ("emphasis", "deemphasis", "schedule", "weight", "lora", "escape", "break", "and", "unbalanced")


class PromptHighlighter(QSyntaxHighlighter):
    """Highlights emphasis (stronger with higher weight), weights, LoRA tags, BREAK, AND, schedules,
    escapes and unbalanced brackets, in colours taken from `palette`."""

    def __init__(self, document: QTextDocument, palette: QPalette) -> None:
        self._palette = palette
        self._text: str | None = None
        self._spans: list[tuple[Span, float]] = []
        self._applied_text: str | None = None
        super().__init__(document)
        document.contentsChanged.connect(self._rehighlight_if_changed)

    def set_palette(self, palette: QPalette) -> None:
        """New colours, e.g. after the system switched between dark and light mode."""
        self._palette = palette
        self.rehighlight()

    def _rehighlight_if_changed(self) -> None:
        # Qt re-highlights only the edited block; a change can recolour any other block.
        text = self.document().toPlainText()
        if text != self._applied_text:
            self._applied_text = text
            self.rehighlight()

    def _refresh_spans(self) -> None:
        text = self.document().toPlainText()
        if text != self._text:
            self._text = text
            spans = sorted(prompt_spans(text), key=_paint_key)
            self._spans = list(zip(spans, _effective_weights(text, spans)))

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._refresh_spans()
        block_start = self.currentBlock().position()
        block_end = block_start + len(text)
        for span, weight in self._spans:
            start, end = max(span.start, block_start), min(span.end, block_end)
            if start < end:
                self._overlay(start - block_start, end - block_start, self._format_for(span.kind, weight))

    def _overlay(self, start: int, end: int, fmt: QTextCharFormat) -> None:
        """Merge `fmt` over what is already painted, run by run, so an outer span keeps inner colours."""
        run_start = start
        while run_start < end:
            below = self.format(run_start)
            run_end = run_start + 1
            while run_end < end and self.format(run_end) == below:
                run_end += 1
            merged = QTextCharFormat(below)
            merged.merge(fmt)
            self.setFormat(run_start, run_end - run_start, merged)
            run_start = run_end

    def _format_for(self, kind: str, weight: float) -> QTextCharFormat:
        palette, fmt = self._palette, QTextCharFormat()
        if kind in ("emphasis", "deemphasis"):
            return _weighted_format(palette, weight)
        if kind == "escape":
            fmt.setForeground(palette_colors.dimmed_text(palette, 0.35))
        elif kind == "unbalanced":
            warning = palette_colors.warning(palette)
            fmt.setForeground(warning)
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(warning)
        elif kind in _HUE_OFFSETS:
            color = palette_colors.accent(palette, _HUE_OFFSETS[kind])
            fmt.setForeground(color)
            if kind in ("break", "and", "weight"):
                fmt.setFontWeight(QFont.Weight.Bold)
            if kind in ("lora", "schedule"):
                fmt.setBackground(palette_colors.tint(color, 0.14))
        return fmt


def _weighted_format(palette: QPalette, weight: float) -> QTextCharFormat:
    """Emphasis washes the text in the accent, more strongly the higher the weight; below 1 it fades."""
    fmt = QTextCharFormat()
    if weight >= 1.0:
        color = palette_colors.accent(palette)
        fmt.setForeground(color)
        fmt.setBackground(palette_colors.tint(color, 0.08 + 0.5 * math.log(weight)))
        if weight >= 1.3:
            fmt.setFontWeight(QFont.Weight.Bold)
    else:
        fade = min(0.65, 0.25 + 0.5 * -math.log(max(weight, 0.01)))
        fmt.setForeground(palette_colors.dimmed_text(palette, fade))
        fmt.setFontItalic(True)
    return fmt


def _paint_key(span: Span) -> tuple[int, int, int]:
    """Emphasis first, outer before inner (nested emphasis is stronger); then the other kinds on top."""
    if span.kind in ("emphasis", "deemphasis"):
        return 0, span.start, -span.end
    order = _PAINT_ORDER.index(span.kind) if span.kind in _PAINT_ORDER else len(_PAINT_ORDER)
    return 1 + order, span.start, -span.end


def _effective_weights(text: str, spans: Sequence[Span]) -> list[float]:
    """Each emphasis span's weight times the weights of the emphasis around it, as A1111 multiplies them."""
    own = [_own_weight(text, span, spans) for span in spans]
    weights = []
    for index, span in enumerate(spans):
        weight = own[index]
        if weight is not None:
            for outer_index, outer in enumerate(spans):
                if outer_index != index and own[outer_index] is not None \
                        and outer.start <= span.start and span.end <= outer.end and outer != span:
                    weight *= own[outer_index]
        weights.append(weight if weight is not None else 1.0)
    return weights


def _own_weight(text: str, span: Span, spans: Sequence[Span]) -> float | None:
    if span.kind == "deemphasis":
        return 1 / EMPHASIS
    if span.kind != "emphasis":
        return None
    for other in spans:
        # `(word:1.3)`: the weight number ends just before the closing bracket.
        if other.kind == "weight" and other.end == span.end - 1 and span.start < other.start:
            number = text[other.start:other.end].lstrip(":").strip()
            try:
                return float(number)
            except ValueError:
                return EMPHASIS
    return EMPHASIS

