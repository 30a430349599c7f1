"""Benchmarks. Run `python bench/permissions.py --help`; see bench/README.md."""
