"""A local Digital River: the API parts catalog-sync uses, played over real loopback HTTP.

Built from docs/digital-river-api.md, with rules of its own (:mod:`catalog_sync.sandbox.rules`,
:mod:`catalog_sync.sandbox.bodies`), never the client's; every choice that page leaves open
lives in :mod:`catalog_sync.sandbox.assumptions` so it can be corrected in one place.
"""
