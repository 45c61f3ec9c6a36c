"""Putting a tag (`<lora:name:1>`, an embedding's name) into a prompt at the cursor, with the commas it needs."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit


def insertion(text: str, position: int, tag: str) -> str:
    """`tag` with the separators it needs at `position` in `text`: a comma from the words around it."""
    before, after = text[:position], text[position:]
    prefix = ""
    if before.strip():
        prefix = " " if before.endswith(",") else ("" if before[-1].isspace() else ", ")
    suffix = ", " if after and not after[0].isspace() and after[0] != "," else ""
    return prefix + tag + suffix


def insert_at_cursor(editor: QPlainTextEdit, tag: str) -> None:
    """Replaces a selection; one undo step; the cursor ends after the tag, as if typed."""
    cursor = editor.textCursor()
    cursor.beginEditBlock()
    if cursor.hasSelection():
        cursor.removeSelectedText()
    cursor.insertText(insertion(editor.toPlainText(), cursor.position(), tag))
    cursor.endEditBlock()
    editor.setTextCursor(cursor)
