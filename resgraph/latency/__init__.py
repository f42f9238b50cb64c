"""Latency without the benchmark: profile a device once (segments timed on it), predict any spec on it."""
