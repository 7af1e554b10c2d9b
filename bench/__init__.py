"""Benchmark harness and soak of the platform: `python -m bench`, `python -m bench soak`."""
