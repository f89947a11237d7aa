"""catalog-sync: Digital River distributed-model catalog and fulfillment daemon."""

__version__ = "0.1.0"
