"""The deterministic provider used by default, in tests and in benchmarks."""
