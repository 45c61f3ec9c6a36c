"""The prompt editor: A1111 syntax colours where the syntax is, a live token count, Ctrl+Up/Down weights."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QColor, QPalette, QTextCharFormat, QTextCursor  # noqa: E402

from core.prompts.weight_edit import change_weight  # noqa: E402
from desktop import palette_colors  # noqa: E402
from desktop.prompt_editor import PromptEditor  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def editor(qtbot):
    widget = PromptEditor("Prompt")
    qtbot.addWidget(widget)
    widget.resize(360, 160)
    widget.show()
    return widget


def format_at(editor: PromptEditor, position: int) -> QTextCharFormat:
    """The highlighter's format for the character at a document position (empty when none)."""
    block = editor.document().findBlock(position)
    offset = position - block.position()
    for format_range in block.layout().formats():
        if format_range.start <= offset < format_range.start + format_range.length:
            return QTextCharFormat(format_range.format)
    return QTextCharFormat()


def position_of(editor: PromptEditor, fragment: str, offset: int = 0) -> int:
    return editor.toPlainText().index(fragment) + offset


def is_wave_underlined(fmt: QTextCharFormat) -> bool:
    return fmt.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline


# ---------------------------------------------------------------- highlighting

SAMPLE = "a (red:1.3) cat, [blurry]\nBREAK <lora:detail:0.8> \\(x\\) AND [day:night:10] dog (open"


def test_each_kind_of_syntax_gets_its_own_format_at_its_characters(editor):
    editor.setPlainText(SAMPLE)
    formats = {
        "plain": format_at(editor, position_of(editor, "a (")),
        "emphasis": format_at(editor, position_of(editor, "red")),
        "weight": format_at(editor, position_of(editor, "1.3")),
        "deemphasis": format_at(editor, position_of(editor, "blurry")),
        "break": format_at(editor, position_of(editor, "BREAK", 2)),
        "lora": format_at(editor, position_of(editor, "lora:detail")),
        "escape": format_at(editor, position_of(editor, "\\(")),
        "and": format_at(editor, position_of(editor, "AND", 1)),
        "schedule": format_at(editor, position_of(editor, "day:night")),
        "unbalanced": format_at(editor, position_of(editor, "(open")),
    }
    assert formats.pop("plain") == QTextCharFormat()
    foregrounds = {kind: fmt.foreground().color().name() for kind, fmt in formats.items()}
    assert all(fmt.hasProperty(QTextCharFormat.Property.ForegroundBrush) for fmt in formats.values()), foregrounds
    kinds = list(formats)
    for index, kind in enumerate(kinds):
        for other in kinds[index + 1:]:
            assert formats[kind] != formats[other], f"{kind} and {other} look the same"
    assert is_wave_underlined(formats["unbalanced"])
    assert formats["unbalanced"].underlineColor() == palette_colors.warning(editor.palette())
    assert formats["break"].fontWeight() > 400 and formats["and"].fontWeight() > 400
    # Text after the syntax is plain again.
    assert format_at(editor, position_of(editor, " cat")) == QTextCharFormat()


def test_higher_weight_is_highlighted_more_strongly(editor):
    editor.setPlainText("(soft:1.1) (strong:1.6) [faint]")
    soft = format_at(editor, position_of(editor, "soft"))
    strong = format_at(editor, position_of(editor, "strong"))
    faint = format_at(editor, position_of(editor, "faint"))
    assert strong.background().color().alphaF() > soft.background().color().alphaF() > 0
    assert faint.fontItalic() and not soft.fontItalic()


def test_a_span_across_lines_is_highlighted_on_both_lines(editor):
    editor.setPlainText("(red,\nblue) sky")
    assert format_at(editor, position_of(editor, "blue")) == format_at(editor, position_of(editor, "red"))
    assert format_at(editor, position_of(editor, "sky")) == QTextCharFormat()


def test_closing_a_bracket_on_a_later_line_clears_the_warning_on_an_earlier_one(editor):
    editor.setPlainText("(red,\nblue")
    assert is_wave_underlined(format_at(editor, 0))
    editor.moveCursor(QTextCursor.MoveOperation.End)
    editor.insertPlainText(")")
    assert not is_wave_underlined(format_at(editor, 0))
    assert format_at(editor, position_of(editor, "red")).hasProperty(QTextCharFormat.Property.ForegroundBrush)


@pytest.mark.parametrize("dark", [True, False])
def test_colours_follow_the_palette_so_dark_and_light_mode_both_read(editor, dark):
    palette = QPalette(editor.palette())
    base, text = (QColor("#1e1e1e"), QColor("#e0e0e0")) if dark else (QColor("#ffffff"), QColor("#202020"))
    palette.setColor(QPalette.ColorRole.Base, base)
    palette.setColor(QPalette.ColorRole.Text, text)
    editor.setPalette(palette)
    editor.setPlainText("(red:1.2) <lora:x:1> BREAK (open")
    for fragment in ("red", "lora", "BREAK", "(open"):
        color = format_at(editor, position_of(editor, fragment)).foreground().color()
        assert abs(color.lightnessF() - base.lightnessF()) > 0.3, (fragment, color.name(), base.name())


# ---------------------------------------------------------------- token count

def test_counter_label_shows_tokens_over_chunk_capacity(editor, qtbot):
    editor.set_token_counter(lambda text: [75, 23] if len(text) > 10 else [len(text.split())])
    assert editor.token_label.isVisible()
    editor.setPlainText("a long prompt of many words")
    qtbot.waitUntil(lambda: editor.token_label.text() == "98/150", timeout=2000)
    assert "75/75 · 23/75" in editor.token_label.toolTip()
    editor.setPlainText("two words")
    qtbot.waitUntil(lambda: editor.token_label.text() == "2/75", timeout=2000)


def test_counter_label_warns_when_the_last_chunk_is_nearly_full(editor, qtbot):
    counts = {"text": [12]}
    editor.set_token_counter(lambda text: counts["text"])
    quiet = editor.token_label.palette().color(editor.token_label.foregroundRole())
    counts["text"] = [75, 72]
    editor.setPlainText("more")
    qtbot.waitUntil(lambda: editor.token_label.text() == "147/150", timeout=2000)
    warning = editor.token_label.palette().color(editor.token_label.foregroundRole())
    assert warning == palette_colors.warning(editor.palette()) != quiet


def test_typing_counts_once_after_a_pause_not_per_key(editor, qtbot):
    calls = []
    editor.set_token_counter(lambda text: calls.append(text) or [len(text)])
    calls.clear()
    qtbot.keyClicks(editor, "a quick brown fox")
    qtbot.waitUntil(lambda: editor.token_label.text() == "17/75", timeout=2000)
    assert calls == ["a quick brown fox"]


def test_a_long_prompt_is_counted_in_chunks_with_the_shipped_tokenizer(editor, qtbot):
    from core.prompts.token_count import load_token_counter

    editor.set_token_counter(load_token_counter())
    editor.setPlainText("red cat, " * 30)  # 3 tokens each: 90, a full chunk of 75 and 15 more
    qtbot.waitUntil(lambda: editor.token_label.text() == "90/150", timeout=5000)
    assert "75/75 · 15/75" in editor.token_label.toolTip()
    editor.setPlainText("a cat")
    qtbot.waitUntil(lambda: editor.token_label.text() == "2/75", timeout=5000)


def test_without_a_counter_no_count_is_shown(editor):
    editor.set_token_counter(lambda text: [1])
    editor.set_token_counter(None)
    assert not editor.token_label.isVisible()


# ---------------------------------------------------------------- Ctrl+Up / Ctrl+Down

def put_cursor(editor: PromptEditor, position: int) -> None:
    cursor = editor.textCursor()
    cursor.setPosition(position)
    editor.setTextCursor(cursor)


def test_ctrl_up_and_down_change_the_weight_of_the_word_under_the_cursor(editor, qtbot):
    editor.setPlainText("a cat, dog")
    put_cursor(editor, 4)
    qtbot.keyClick(editor, Qt.Key.Key_Up, CTRL)
    assert editor.toPlainText() == "a (cat:1.1), dog"
    assert editor.textCursor().selectedText() == "cat"
    qtbot.keyClick(editor, Qt.Key.Key_Up, CTRL)
    assert editor.toPlainText() == "a (cat:1.2), dog"
    qtbot.keyClick(editor, Qt.Key.Key_Down, CTRL)
    qtbot.keyClick(editor, Qt.Key.Key_Down, CTRL)
    assert editor.toPlainText() == "a cat, dog"
    qtbot.keyClick(editor, Qt.Key.Key_Down, CTRL)
    assert editor.toPlainText() == "a (cat:0.9), dog"


def test_ctrl_up_weights_a_selection_and_undo_takes_it_back(editor, qtbot):
    editor.setPlainText("red sky, sea")
    cursor = editor.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(7, QTextCursor.MoveMode.KeepAnchor)
    editor.setTextCursor(cursor)
    qtbot.keyClick(editor, Qt.Key.Key_Up, CTRL)
    assert editor.toPlainText() == "(red sky:1.1), sea"
    editor.undo()
    assert editor.toPlainText() == "red sky, sea"


def test_meta_up_works_too_for_the_mac_control_key(editor, qtbot):
    editor.setPlainText("cat")
    put_cursor(editor, 1)
    qtbot.keyClick(editor, Qt.Key.Key_Up, Qt.KeyboardModifier.MetaModifier)
    assert editor.toPlainText() == "(cat:1.1)"


@pytest.mark.parametrize(("text", "cursor", "up", "expected"), [
    ("((big cat))", 4, True, "(big cat:1.3)"),  # A1111 turns old-style emphasis into a number first
    ("[big cat]", 4, True, "big cat"),
    ("[big cat]", 4, False, "(big cat:0.8)"),
    ("x <lora:detail:0.8> y", 8, True, "x <lora:detail:0.85> y"),
    ("x <lora:detail:0.05> y", 8, False, "x <lora:detail:0.0> y"),
    ("(a cat:1.1), dog", 4, False, "a cat, dog"),
    ("(cat:1.9)", 2, True, "(cat:2.0)"),
])
def test_weight_steps_follow_a1111(text, cursor, up, expected):
    assert change_weight(text, cursor, cursor, up).text == expected


@pytest.mark.parametrize("text", ["x <lora:detail> y", "a, , b"])
def test_nothing_to_weight_leaves_the_text_alone(text):
    assert change_weight(text, 8 if "lora" in text else 3, 8 if "lora" in text else 3, True) is None


def test_ctrl_return_asks_to_generate(editor, qtbot):
    editor.setPlainText("a cat")
    with qtbot.waitSignal(editor.submitted, timeout=1000):
        qtbot.keyClick(editor, Qt.Key.Key_Return, CTRL)
    assert editor.toPlainText() == "a cat"
