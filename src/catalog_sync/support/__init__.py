"""Plumbing every layer above the core shares: settings, logs, clock, files, metrics."""
