"""``catalog-sync sandbox``: placeholder filled by the sandbox work."""
