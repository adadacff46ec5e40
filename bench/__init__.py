"""Benchmarks, run by `make bench`: each module's ``main()`` prints its figures against a baseline
measured in the same run."""
