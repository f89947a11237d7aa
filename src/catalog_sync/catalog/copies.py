"""Catalog files on several nodes: a node's older copy of a file is never applied.

In a deployment of several nodes each node watches its own ``catalogs/`` folder (a shared
folder is one case of it). Whichever node leads applies the files as its copy holds them. A
standby's copy may lag (a sync that has not run yet); when it becomes leader, applying that
copy would overwrite newer prices with older ones. So the state remembers, per file, the size
and modification time of the newest copy a leader has applied (recorded as a run starts, so a
leader that dies mid-run still leaves the record); a leader whose copy of a file is older
than that leaves the file out of its runs (its pairs stay as they are at Digital River: the
daemon never prunes), says so in the log, and marks the file skipped in the state for
``status``, until its copy catches up. Modification times must therefore travel with the
files (``rsync -t``, ``cp -p``, a shared folder), which is what every sync tool does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from catalog_sync.catalog.watcher import CatalogCache
from catalog_sync.core.catalog import Catalog
from catalog_sync.state import CatalogFileRecord, CatalogState, NotificationRecord
from catalog_sync.support.clock import now_stamp
from catalog_sync.support.logs import get_logger
from catalog_sync.support.settle import Signature

log = get_logger("runs")

#: The kind of the notification sent when a leader first leaves a file out.
NOTICE_KIND: Final = "catalog_copy_older"


def _left_out(name: str) -> str:
    return (
        f"catalog file {name} left out: this leader's copy is older than the one applied; "
        "update this node's catalogs folder"
    )


def older_copies(
    local: Mapping[str, Signature], applied: Mapping[str, CatalogFileRecord]
) -> set[str]:
    """The files (by name in the folder) whose copy here was modified before the copy last
    applied."""
    return {
        name
        for name, (_size, mtime_ns) in local.items()
        if (record := applied.get(name)) is not None and mtime_ns < record.mtime_ns
    }


class CopyGuard:
    """The catalog a run may apply: without older copies, the others recorded as applied."""

    def __init__(self, store: CatalogState, cache: CatalogCache) -> None:
        self._store = store
        self._cache = cache

    async def catalog(self) -> Catalog:
        """The cached catalog less the files this node holds an older copy of.

        Files are compared by their name in the folder: the folder's path may differ between
        nodes."""
        local = {Path(name).name: (name, sig) for name, sig in self._cache.signatures().items()}
        recorded = self._store.catalog_files()
        older = older_copies({n: sig for n, (_, sig) in local.items()}, recorded)
        now = now_stamp()
        if older:
            log.warning(
                "catalog files older than those applied are left out; update this node's copy",
                files=sorted(older),
            )
        self._store.add_notifications(
            NotificationRecord(now, NOTICE_KIND, _left_out(name), None, None)
            for name in sorted(older)
            if recorded[name].skipped_at is None
        )
        applying = {n: sig for n, (_, sig) in local.items() if n not in older}
        self._store.record_catalog_files(applying, older, now)
        return await self._cache.merged(exclude={local[n][0] for n in older})
