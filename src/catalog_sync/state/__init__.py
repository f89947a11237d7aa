"""The state: the storage interface, its records, and :func:`open_state`.

Callers are typed against the protocols of :mod:`catalog_sync.state.interface` and open the
state with :func:`open_state`; every SQL statement of catalog-sync lives in this package, behind
the SQLite backend (``store``, ``fulfillment``, ``requests``, ``schema``) and the PostgreSQL one
(``postgres``, ``pg_schema``, ``pg_migrate``).
"""

from catalog_sync.core.notices import NotificationRecord
from catalog_sync.state.backends import (
    POSTGRES_SCHEMES,
    UnsupportedStateError,
    open_state,
    scratch_copy,
)
from catalog_sync.state.errors import FencedError, StateError
from catalog_sync.state.interface import (
    ActivityState,
    AuditState,
    CatalogState,
    InboxState,
    LeaseState,
    LedgerReader,
    LedgerState,
    RequestLogState,
    StateBackend,
)
from catalog_sync.state.pg_migrate import migrate_to_postgres
from catalog_sync.state.postgres import public_location
from catalog_sync.state.records import (
    AppliedPair,
    AuditFindingRecord,
    CatalogFileRecord,
    EventCursor,
    EventOutcome,
    Fence,
    HistoryEntry,
    HistoryLine,
    InboxEvent,
    InstanceRecord,
    Lease,
    LedgerEntry,
    LedgerMark,
    LedgerWrites,
    LineRetry,
    RecordedRequest,
    RequestClaims,
    RequestFileRecord,
    RequestLineRecord,
    RequestRecord,
    RunRecord,
    SettledWrite,
    WriteAnswer,
    WriteRetry,
)
from catalog_sync.state.store import check_writable, state_error

__all__ = [
    "POSTGRES_SCHEMES",
    "ActivityState",
    "AppliedPair",
    "AuditFindingRecord",
    "AuditState",
    "CatalogFileRecord",
    "CatalogState",
    "EventCursor",
    "EventOutcome",
    "Fence",
    "FencedError",
    "HistoryEntry",
    "HistoryLine",
    "InboxEvent",
    "InboxState",
    "InstanceRecord",
    "Lease",
    "LeaseState",
    "LedgerEntry",
    "LedgerMark",
    "LedgerReader",
    "LedgerState",
    "LedgerWrites",
    "LineRetry",
    "NotificationRecord",
    "RecordedRequest",
    "RequestClaims",
    "RequestFileRecord",
    "RequestLineRecord",
    "RequestLogState",
    "RequestRecord",
    "RunRecord",
    "SettledWrite",
    "StateBackend",
    "StateError",
    "UnsupportedStateError",
    "WriteAnswer",
    "WriteRetry",
    "check_writable",
    "migrate_to_postgres",
    "open_state",
    "public_location",
    "scratch_copy",
    "state_error",
]
