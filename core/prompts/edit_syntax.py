"""Reading the prompt-editing structure of an A1111 prompt into a small tree.

The language is A1111's schedule grammar: inside any bracket, `(...)`,
`(...:...)`, `[...]`, `[a:b:N]`, `[b:N]`, `[a|b|...]` must nest properly and
a `:` or `|` may appear only where those forms allow. Outside all brackets,
stray `( ) [ ] :` are plain text; a `|` there, or a backslash with nothing
after it, makes the whole prompt unreadable (A1111 then uses it verbatim).

A1111 resolves the top level with an ambiguous Earley parse. Where a `[a:N]`
is followed by stray closing brackets, its choice depends on Python's hash
seed and differs between runs; here such a bracket is always an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

# Any character but \ ( ) [ ] : | and a backslash escaping any character but a newline.
_PLAIN = re.compile(r"(?:[^\\()\[\]:|]|\\.)+")
# The end of an edit: ":" is already read; the step number as lark's SIGNED_NUMBER, then "]".
_WHEN = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*\]")
_STOPS = ")]:|"


@dataclass(frozen=True)
class Edit:
    """`[before:after:when]`: `before` up to step `when`, `after` from the next step on."""

    before: list[Node]
    after: list[Node]
    when: str  # as written; its meaning depends on the step count


@dataclass(frozen=True)
class Alternation:
    """`[a|b|c]`: option (step - 1) mod n at each step."""

    options: list[list[Node]]


Node = Union[str, Edit, Alternation]


class UnreadableEdit(Exception):
    """Nothing in the grammar can consume this character."""


def read_edits(prompt: str) -> list[Node] | None:
    """The prompt as text pieces, edits and alternations; None when A1111 could not parse it."""
    try:
        return EditReader(prompt).top_level()
    except UnreadableEdit:
        return None


class EditReader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def top_level(self) -> list[Node]:
        nodes: list[Node] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "|":
                raise UnreadableEdit
            if char in "([":
                start = self.pos
                bracketed = self.bracketed()
                if bracketed is not None:
                    nodes.extend(bracketed)
                    continue
                self.pos = start
            if char in "([)]:":
                nodes.append(char)
                self.pos += 1
            else:
                nodes.append(self.plain())
        return nodes

    def plain(self) -> str:
        match = _PLAIN.match(self.text, self.pos)
        if match is None:  # a backslash at the end or before a newline
            raise UnreadableEdit
        self.pos = match.end()
        return match.group(0)

    def sequence(self) -> list[Node] | None:
        """Text and bracketed forms up to the next `) ] : |` or the end."""
        nodes: list[Node] = []
        while self.pos < len(self.text) and self.text[self.pos] not in _STOPS:
            if self.text[self.pos] in "([":
                bracketed = self.bracketed()
                if bracketed is None:
                    return None
                nodes.extend(bracketed)
            else:
                nodes.append(self.plain())
        return nodes

    def bracketed(self) -> list[Node] | None:
        opener = self.text[self.pos]
        self.pos += 1
        first = self.sequence()
        if first is None:
            return None
        return self.rest_of_round(first) if opener == "(" else self.rest_of_square(first)

    def rest_of_round(self, first: list[Node]) -> list[Node] | None:
        if self.take(")"):
            return ["(", *first, ")"]
        if not self.take(":"):
            return None
        second = self.sequence()
        if second is None or not self.take(")"):
            return None
        return ["(", *first, ":", *second, ")"]

    def rest_of_square(self, first: list[Node]) -> list[Node] | None:
        if self.take("]"):
            return ["[", *first, "]"]
        if self.peek() == "|":
            return self.rest_of_alternation(first)
        if not self.take(":"):
            return None
        when = self.when()
        if when is not None:
            return [Edit([], first, when)]
        second = self.sequence()
        if second is None or not self.take(":"):
            return None
        when = self.when()
        return None if when is None else [Edit(first, second, when)]

    def rest_of_alternation(self, first: list[Node]) -> list[Node] | None:
        options = [first]
        while self.take("|"):
            option = self.sequence()
            if option is None:
                return None
            options.append(option)
        return [Alternation(options)] if self.take("]") else None

    def when(self) -> str | None:
        match = _WHEN.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        return match.group(1)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, char: str) -> bool:
        if self.peek() != char:
            return False
        self.pos += 1
        return True
