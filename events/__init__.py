"""The append-only log once events leave the domain: the store and its projections."""
