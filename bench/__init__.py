"""Benchmarks, run by `make bench`. Each module's ``main()`` prints its figures against a same-run baseline."""
