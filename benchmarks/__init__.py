"""Benchmarks of catalog-sync; run with ``make bench`` (see README)."""
