"""The catalog feature: catalog files, reconcile runs, the watcher and the reports."""
