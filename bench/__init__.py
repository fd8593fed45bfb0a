"""Benchmarks (`make bench`): each module's `run()` returns named measurements of one run."""
