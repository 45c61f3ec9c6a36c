"""Errors as values a person can act on."""

from __future__ import annotations


class EaselError(Exception):
    """A failure with a message meant for the user and, optionally, what to do about it."""

    def __init__(self, message: str, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ModelFileError(EaselError):
    """A model file that cannot be used: missing, damaged, unsafe or unsupported."""


class UnsafeFileError(ModelFileError):
    """A pickle that would need arbitrary code to open. It is never executed."""


class RequestError(EaselError):
    """A generation request that cannot run as given (size, memory, missing input)."""


class GenerationCancelled(EaselError):
    """The user cancelled; not an error to report."""
