"""The activity feature: what catalog-sync did and found over a period, as a report."""
