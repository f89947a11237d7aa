"""Request file intake against hostile folders: odd entries, huge files, hostile names.

What the merchant sees is the folder afterwards (``processed/``, ``rejected/``, the errors
files) and the request log; these tests read exactly that, over a real state database.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_sync.core.orders import Order, OrderLine
from catalog_sync.requests.transmitter import (
    PROCESSED,
    REJECTED,
    FileOutcome,
    RequestFolder,
    request_paths,
    shown_name,
)
from catalog_sync.state import LedgerWrites, open_state

NOW = "2026-01-01T00:00:00.000000Z"
ORDER = Order("100", "accepted", "USD", (OrderLine("L1", "d-1", 5, physical=False),))
GOOD = "orderId,itemId,action,quantity\n100,L1,cancel,1\n"
LIMIT = 1_048_576


@contextmanager
def folder_with_order(root: Path, *, max_bytes: int = LIMIT) -> Iterator[RequestFolder]:
    """A requests folder under ``root`` over a state database that knows order 100."""
    requests = root / "requests"
    requests.mkdir()
    with open_state(root / "s.db") as store:
        store.commit_ledger(LedgerWrites(orders={ORDER.order_id: ORDER}), NOW)
        yield RequestFolder(requests, store, max_bytes=max_bytes)


def one_pass(folder: RequestFolder) -> list[FileOutcome]:
    """Process every request file of the folder once, as a daemon pass does."""
    return [o for p in request_paths(folder.folder) if (o := folder.process(p)) is not None]


def errors_of(folder: RequestFolder) -> dict[str, list[str]]:
    """The errors files of the folder: the file each names, and its problems' texts."""
    found = {}
    for path in folder.folder.glob("*.errors.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        found[document["file"]] = [e["text"] for e in document["errors"]]
    return found


def left_in(folder: RequestFolder) -> list[str]:
    """Request file entries still lying in the folder (nothing should be)."""
    return [p.name for p in request_paths(folder.folder)]


def make_fifo(path: Path) -> None:
    """A named pipe: opening it for reading would block until a writer comes."""
    os.mkfifo(path)


def make_directory(path: Path) -> None:
    """A directory with a request file's name."""
    path.mkdir()


def make_socket(path: Path) -> None:
    """A Unix socket (bound by a relative name: socket paths are short)."""
    here = Path.cwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path.name)
    finally:
        os.chdir(here)


def link_to_zero(path: Path) -> None:
    """A link to a device that never ends."""
    path.symlink_to("/dev/zero")


def dangling_link(path: Path) -> None:
    """A link to nothing."""
    path.symlink_to(path.parent / "missing.csv")


def link_inside(path: Path) -> None:
    """A link to a valid request file in the same folder (a second name for it)."""
    target = path.parent / ".real"
    target.write_text(GOOD, encoding="utf-8")
    path.symlink_to(target.name)


ODD: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (make_fifo, "is a FIFO (named pipe): only regular files are read"),
    "directory": (make_directory, "is a directory: only regular files are read"),
    "socket": (make_socket, "is a socket: only regular files are read"),
    "link to /dev/zero": (link_to_zero, "is a symbolic link"),
    "dangling link": (dangling_link, "is a symbolic link"),
    "link inside the folder": (link_inside, "is a symbolic link"),
}


@pytest.mark.parametrize("kind", sorted(ODD))
def test_an_entry_that_is_not_a_regular_file_is_rejected_by_name(tmp_path: Path, kind: str) -> None:
    """FIFO, directory, socket or link: rejected with the reason, never opened or followed."""
    make, reason = ODD[kind]
    with folder_with_order(tmp_path) as folder:
        make(folder.folder / "x.csv")
        (outcome,) = one_pass(folder)
        assert (outcome.outcome, left_in(folder)) == (REJECTED, [])
        assert os.path.lexists(folder.folder / REJECTED / "x.csv")
        (text,) = errors_of(folder)["x.csv"]
        assert text.startswith(f"x.csv:1: {reason}")
        assert folder.folder.joinpath(".real").exists() == (kind == "link inside the folder")


def test_a_link_is_moved_as_a_link_and_its_target_is_untouched(tmp_path: Path) -> None:
    """Rejecting a link moves the link itself; the file it points to stays as it was."""
    target = tmp_path / "secret.txt"
    target.write_text("sk_test_do_not_read_me\n", encoding="utf-8")
    with folder_with_order(tmp_path) as folder:
        (folder.folder / "k.csv").symlink_to(target)
        one_pass(folder)
        moved = folder.folder / REJECTED / "k.csv"
        assert (moved.is_symlink(), target.read_text(encoding="utf-8")) == (
            True,
            "sk_test_do_not_read_me\n",
        )


def test_a_file_over_the_size_limit_is_rejected_unread(tmp_path: Path) -> None:
    """One byte over ``request_max_bytes``: rejected with the limit and the setting named."""
    with folder_with_order(tmp_path, max_bytes=64) as folder:
        (folder.folder / "big.csv").write_bytes(b"x" * 65)
        one_pass(folder)
        assert errors_of(folder) == {
            "big.csv": ["big.csv:1: is larger than the 64-byte limit (setting request_max_bytes)"]
        }


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    """Exactly ``request_max_bytes`` is read and its requests recorded."""
    data = GOOD.encode()
    with folder_with_order(tmp_path, max_bytes=len(data)) as folder:
        (folder.folder / "fits.csv").write_bytes(data)
        (outcome,) = one_pass(folder)
        assert (outcome.outcome, outcome.accepted) == (PROCESSED, 1)


def test_a_huge_quantity_rejects_its_file_and_the_next_file_goes_on(tmp_path: Path) -> None:
    """A 5,000-digit quantity is a problem of its file; the file after it is recorded."""
    with folder_with_order(tmp_path) as folder:
        row = '[{"orderId": "100", "itemId": "L1", "action": "cancel", "quantity": %s}]'
        (folder.folder / "a.json").write_text(row % ("9" * 5000), encoding="utf-8")
        (folder.folder / "b.csv").write_text(GOOD, encoding="utf-8")
        outcomes = one_pass(folder)
        assert [(o.name, o.outcome, o.accepted) for o in outcomes] == [
            ("a.json", REJECTED, 0),
            ("b.csv", PROCESSED, 1),
        ]
        assert errors_of(folder)["a.json"] == ["a.json:1: quantity: longer than 1000 characters"]


def test_a_name_too_long_for_its_errors_file_still_gets_one(tmp_path: Path) -> None:
    """At the longest name the folder allows, the errors file is shortened, never skipped."""
    name = "n" * (255 - len(".csv")) + ".csv"
    with folder_with_order(tmp_path) as folder:
        (folder.folder / name).write_text("orderId,itemId,action,quantity\n100,L1,ship,1\n")
        (folder.folder / "z.csv").write_text(GOOD, encoding="utf-8")
        outcomes = one_pass(folder)
        assert [(o.outcome, o.accepted) for o in outcomes] == [(REJECTED, 0), (PROCESSED, 1)]
        errors_file = outcomes[0].errors_file
        assert errors_file is not None
        assert len(errors_file.name.encode()) <= 255
        assert errors_file.name.endswith(".errors.json")
        assert errors_of(folder)[name] == [
            f"{name}:2: action: 'ship' is neither fulfill nor cancel"
        ]
        assert (folder.folder / REJECTED / name).exists()


def test_a_name_already_in_rejected_gets_a_suffix_even_at_the_longest_name(
    tmp_path: Path,
) -> None:
    """The time suffix of a second file of the same name is fitted into the name limit."""
    name = "m" * (255 - len(".csv")) + ".csv"
    with folder_with_order(tmp_path) as folder:
        for content in ("orderId\n", "action\n"):
            (folder.folder / name).write_text(content, encoding="utf-8")
            one_pass(folder)
        assert (left_in(folder), len(list((folder.folder / REJECTED).iterdir()))) == ([], 2)


hostile_names = st.one_of(
    st.binary(min_size=1, max_size=60).filter(lambda b: b"/" not in b and b"\0" not in b),
    st.text(st.characters(exclude_characters="/\0", exclude_categories=["Cs"]), min_size=1),
).map(lambda n: os.fsencode(n) if isinstance(n, str) else n)
hostile_content = st.one_of(
    st.binary(max_size=300),
    st.integers(1, 6000).map(
        lambda d: (
            b'[{"orderId": "100", "itemId": "L1", "action": "cancel", "quantity": '
            + b"9" * d
            + b"}]"
        )
    ),
    st.just(b"orderId,itemId,action,quantity\n100,L1,cancel,\n"),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(
        st.tuples(hostile_names, st.sampled_from([b".csv", b".json"]), hostile_content),
        min_size=1,
        max_size=6,
        unique_by=lambda f: f[0] + f[1],
    ),
    odd=st.sampled_from(sorted(ODD)),
)
def test_no_hostile_file_stops_the_pass(files: list[tuple[bytes, bytes, bytes]], odd: str) -> None:
    """Hostile names, contents and entry types: each is handled on its own, none raises,
    every one leaves the folder, each rejected one has an errors file naming it, and a good
    file sorted last is still recorded in the same pass."""
    with tempfile.TemporaryDirectory() as root, folder_with_order(Path(root)) as folder:
        names = []
        for stem, suffix, content in files:
            raw = (stem[: 255 - len(suffix)] + suffix).lstrip(b".~#") or b"x" + suffix
            path = folder.folder / os.fsdecode(raw)
            if path.name.endswith((".csv", ".json")) and not path.exists():
                path.write_bytes(content)
                names.append(path.name)
        ODD[odd][0](folder.folder / "\x7fodd.csv")
        (folder.folder / "\U0010fffflast.csv").write_text(GOOD, encoding="utf-8")
        outcomes = one_pass(folder)
        assert left_in(folder) == []
        assert outcomes[-1].accepted == 1
        errors = errors_of(folder)
        for outcome in outcomes:
            if outcome.outcome == REJECTED:
                assert errors[outcome.name]
                assert all(t.startswith(f"{outcome.name}:") for t in errors[outcome.name])
        assert {shown_name(n) for n in names} <= {o.name for o in outcomes}


def test_a_file_name_that_is_not_utf8_is_named_escaped(tmp_path: Path) -> None:
    """A name the state database could not store as text is shown (and kept) escaped."""
    with folder_with_order(tmp_path) as folder:
        raw = os.fsencode(folder.folder) + b"/bad\xff\x1b.csv"
        Path(os.fsdecode(raw)).write_text(GOOD, encoding="utf-8")
        (outcome,) = one_pass(folder)
        assert (outcome.name, outcome.outcome, outcome.accepted) == (
            "bad\\udcff\\x1b.csv",
            PROCESSED,
            1,
        )


def test_a_file_that_cannot_be_moved_does_not_stop_the_others(tmp_path: Path) -> None:
    """With ``rejected`` unusable, a bad file stays (logged) and the good one is recorded."""
    with folder_with_order(tmp_path) as folder:
        (folder.folder / REJECTED).write_text("not a folder", encoding="utf-8")
        (folder.folder / "a.csv").write_text("orderId\n", encoding="utf-8")
        (folder.folder / "b.csv").write_text(GOOD, encoding="utf-8")
        outcomes = one_pass(folder)
        assert [(o.name, o.outcome, o.moved_to is None) for o in outcomes] == [
            ("a.csv", REJECTED, True),
            ("b.csv", PROCESSED, False),
        ]


def test_a_file_that_fails_unforeseen_is_rejected_alone(tmp_path: Path) -> None:
    """Its errors file cannot be written (a directory holds the name): the file is rejected
    with nothing of it recorded, and the next file is recorded in the same pass."""
    with folder_with_order(tmp_path) as folder:
        (folder.folder / "a.csv.errors.json").mkdir()
        (folder.folder / "a.csv").write_text(GOOD + "100,L1,ship,1\n", encoding="utf-8")
        (folder.folder / "b.csv").write_text(GOOD, encoding="utf-8")
        outcomes = one_pass(folder)
        assert [(o.name, o.outcome, o.accepted) for o in outcomes] == [
            ("a.csv", REJECTED, 0),
            ("b.csv", PROCESSED, 1),
        ]
        assert (folder.folder / REJECTED / "a.csv").exists()
    with open_state(tmp_path / "s.db") as store:
        assert [r.source for r in store.requests_of("100")] == ["b.csv"]


def test_a_busy_state_database_leaves_the_file_for_a_later_pass(tmp_path: Path) -> None:
    """The state database, not the file, is the trouble: the file stays and is taken later."""
    with folder_with_order(tmp_path) as folder:
        (folder.folder / "a.csv").write_text(GOOD, encoding="utf-8")
        other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            assert (one_pass(folder), left_in(folder)) == ([], ["a.csv"])
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert [(o.outcome, o.accepted) for o in one_pass(folder)] == [(PROCESSED, 1)]


def test_a_file_that_cannot_be_moved_is_not_retaken_at_every_pass(tmp_path: Path) -> None:
    """A stuck file is left alone for a while, not re-read and re-rejected each pass."""
    with folder_with_order(tmp_path) as folder:
        (folder.folder / REJECTED).write_text("not a folder", encoding="utf-8")
        (folder.folder / "a.csv").write_text("orderId\n", encoding="utf-8")
        one_pass(folder)
        assert (one_pass(folder), left_in(folder)) == ([], ["a.csv"])
