"""Run every benchmark in turn: ``python -m bench [name ...]``."""

import importlib
import sys

BENCHMARKS = ("ingest", "csvread", "dispatch", "twilio", "smtp", "memory")


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        module.main()


if __name__ == "__main__":
    main()
