"""``--state FILE``: the sandbox's data as one JSON document, saved often and atomically.

Saved on clean shutdown and, while running, a moment after anything changed, so a killed
sandbox loses at most the last few seconds. The request log, faults and rate buckets are
per-run diagnostics and are not kept.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, Final

from catalog_sync.sandbox.assumptions import BODY_MAX_DEPTH
from catalog_sync.sandbox.bodies import repaired
from catalog_sync.sandbox.dataset import DataSet, LineProgress
from catalog_sync.sandbox.state import Sandbox

FORMAT_VERSION: Final = 1
#: How ``json.dumps`` writes a surrogate: a file without one holds no lone surrogate.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
#: Levels of the state document above one stored object (document, modes, mode, collection).
_STATE_DEPTH: Final = BODY_MAX_DEPTH + 4
SAVE_INTERVAL: Final = 2.0


def dump(sandbox: Sandbox) -> dict[str, Any]:
    """The persistent part of ``sandbox`` as JSON-ready data."""
    return {
        "version": FORMAT_VERSION,
        "ids": sandbox.ids.issued,
        "policy": sandbox.policy,
        "modes": {_mode(data): _dump_data(data) for data in sandbox.datasets()},
    }


def restore(sandbox: Sandbox, document: dict[str, Any]) -> None:
    """Replace ``sandbox``'s data by what :func:`dump` produced."""
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported sandbox state version {document.get('version')!r}")
    sandbox.reset()
    sandbox.ids.issued.update(document["ids"])
    sandbox.policy = "reject" if document.get("policy") == "reject" else "accept"
    for data in sandbox.datasets():
        _restore_data(data, document["modes"].get(_mode(data), {}))


def save(sandbox: Sandbox, path: Path) -> None:
    """Write the state atomically (a crash mid-write leaves the previous file intact)."""
    text = json.dumps(dump(sandbox), separators=(",", ":"))
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def load(sandbox: Sandbox, path: Path) -> bool:
    """Load ``path`` into ``sandbox`` if it exists; says whether it did."""
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    if _SURROGATE_ESCAPE.search(text):
        # Saved by a version that stored lone surrogates: keep them as text, never serve them.
        document = repaired(document, _STATE_DEPTH)
    restore(sandbox, document)
    return True


async def keep_saved(sandbox: Sandbox, path: Path, interval: float = SAVE_INTERVAL) -> None:
    """Save whenever something changed since the last save; runs until cancelled."""
    saved = sandbox.changes
    while True:
        await asyncio.sleep(interval)
        if sandbox.changes != saved:
            saved = sandbox.changes
            save(sandbox, path)


def _mode(data: DataSet) -> str:
    return "live" if data.live else "test"


def _dump_data(data: DataSet) -> dict[str, Any]:
    result: dict[str, Any] = {
        name: list(collection.values()) for name, collection in data.collections().items()
    }
    result["progress"] = {
        order_id: {line: [p.quantity, p.fulfilled, p.cancelled] for line, p in lines.items()}
        for order_id, lines in data.progress.items()
    }
    result["backorderedTotal"] = dict(data.backordered_total)
    return result


def _restore_data(data: DataSet, saved: dict[str, Any]) -> None:
    for name, collection in data.collections().items():
        for obj in saved.get(name, []):
            collection.put(str(obj["id"]), obj)
    data.progress = {
        order_id: {line: LineProgress(*counts) for line, counts in lines.items()}
        for order_id, lines in saved.get("progress", {}).items()
    }
    data.backordered_total = dict(saved.get("backorderedTotal", {}))
