"""Benchmarks (not part of `make test`): `make bench` runs `python -m benchmarks.scale`,
`make load` runs `python -m benchmarks.load`."""
