"""Typed errors. The CLI turns any of these into one clear line and a non-zero exit."""

from __future__ import annotations


class ChatcloneError(Exception):
    """Base class for every error chatclone reports to the user."""

    exit_code = 1


class InputError(ChatcloneError):
    """A file the user gave us cannot be read: names the file and, where it applies, the line."""

    exit_code = 2

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, int | None]]:
        # A file is read in a separate process on big ingests; its errors travel back pickled.
        return (InputError, (self.path, self.problem, self.line))


class WorkspaceError(ChatcloneError):
    """The workspace (settings file or store) is missing, unreadable or from a newer version."""


class Interrupted(ChatcloneError):
    """The user stopped a long job (Ctrl-C) after its state was saved; the message says how to
    continue."""

    exit_code = 130
