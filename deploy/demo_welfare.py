"""Moved to services/welfare/demo.py (run it with `python -m deploy.demo --domains welfare`).
Kept for the callers that still import it: `build_plan(rng)`, `run(rpc_factory, rng, ...)`."""
from services.welfare.demo import build_plan, drive as run  # noqa: F401
