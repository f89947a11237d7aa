"""``python -m catalog_sync.demo``: the demo walkthrough."""

import sys

from catalog_sync.demo.walkthrough import main

sys.exit(main())
