"""Allows ``python -m catalog_sync`` as well as the ``catalog-sync`` console script."""

from catalog_sync.cli import main

main()
