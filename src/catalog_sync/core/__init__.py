"""Pure decisions: no network, disk, clock or database (enforced by import-linter)."""
