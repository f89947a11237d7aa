"""A local Digital River: the API parts catalog-sync uses, played over real loopback HTTP.

Built from ``shared/reference/dr-api.md``; every choice the reference leaves open lives in
:mod:`catalog_sync.sandbox.assumptions` so it can be corrected in one place.
"""
