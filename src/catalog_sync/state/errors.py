"""The one error every state backend raises: what failed, where, and what to do about it."""

from __future__ import annotations

from pathlib import Path


class StateError(RuntimeError):
    """The state database cannot be opened, read or written.

    The message is meant for an operator: the path (or a server database's URL, without its
    password), what failed, and what to do.
    """

    def __init__(
        self, path: Path | str, problem: str, advice: str, *, passing: bool = False
    ) -> None:
        super().__init__(f"state database {path}: {problem}; {advice}")
        self.path = path
        #: Whether trying again later may succeed (busy, locked, read-only, full), as
        #: opposed to a database that is damaged or not a database at all.
        self.passing = passing
