"""Errors a user can act on: each names the file, the line and the column at fault."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input data, located precisely so that the user can mend the file.

    ``line`` is 1-based and counts the header as line 1, as an editor shows it.
    """

    def __init__(
        self,
        path: str | Path,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f", ligne {self.line}"
        if self.column is not None:
            where += f", colonne {self.column!r}"
        return f"{where} : {self.reason}"


class CommandError(Exception):
    """A failure the user can act on outside the input files: an output folder the command may
    not replace, a travel-time server that does not answer. The message is one French line."""
