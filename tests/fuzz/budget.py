"""How long the fuzz tests run: a bounded budget in ``make test``, a long one in ``make fuzz``.

Every fuzz test takes its settings from here, so one variable scales them all:
``CATALOG_SYNC_FUZZ_EXAMPLES`` (default 200 per test; ``make fuzz`` uses 20,000).
"""

from __future__ import annotations

import os
from typing import Final

from hypothesis import HealthCheck, settings

EXAMPLES: Final = int(os.environ.get("CATALOG_SYNC_FUZZ_EXAMPLES", "200"))

#: Examples bounded by count, never by time, so a loaded machine runs the same inputs.
fuzz_settings: Final = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
