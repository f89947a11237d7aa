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


class FencedError(StateError):
    """A claim or sent-mark was refused: this instance's term as leader is over.

    Raised inside the transaction, so nothing of it was committed and nothing it would have
    allowed is sent; the instance stands by (another instance leads, or will).
    """

    def __init__(self, path: Path | str, epoch: int, holder: str | None) -> None:
        leader = "nobody holds the lease" if holder is None else f"{holder} leads"
        super().__init__(
            path,
            f"leadership epoch {epoch} is over ({leader}); nothing was committed",
            "this instance stands by",
            passing=True,
        )
        self.epoch = epoch
