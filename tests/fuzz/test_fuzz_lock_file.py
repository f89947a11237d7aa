"""The lock file of a state database, whatever it holds, is described safely."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.daemon.instance_lock import LockHolder


@fuzz_settings
@given(st.binary(max_size=2048))
def test_any_lock_file_content_describes_its_holder_on_one_printable_line(data: bytes) -> None:
    """Damaged or hostile content never raises and never reaches a refusal message as
    control characters or more than a short line."""
    described = LockHolder.parse(data).describe()
    assert described.isprintable()
    assert len(described) < 200


@fuzz_settings
@given(st.integers(min_value=1, max_value=2**22), st.text(max_size=200))
def test_a_holder_written_is_read_back(pid: int, command: str) -> None:
    """What a holder writes is what a refused process reads (its command cut to a printable
    line): the pid in a refusal is always the holder's."""
    holder = LockHolder.parse(LockHolder(pid, command).render())
    assert holder.pid == pid
