"""The state database: every SQL statement of catalog-sync lives in this package.

SQLite is the embedded default. Callers see a :class:`StateStore` with domain methods, never a
cursor, so a PostgreSQL backend can implement the same methods later.
"""

from catalog_sync.state.store import (
    AppliedPair,
    RunRecord,
    StateError,
    StateStore,
    check_writable,
    state_error,
)

__all__ = ["AppliedPair", "RunRecord", "StateError", "StateStore", "check_writable", "state_error"]
