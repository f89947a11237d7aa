"""The long-running process: services side by side, wiring, systemd, lock, status."""
