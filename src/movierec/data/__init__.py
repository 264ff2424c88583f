"""The data layer: MovieLens releases, files, loading, the in-memory `Dataset`."""
