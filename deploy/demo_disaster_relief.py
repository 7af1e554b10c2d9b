"""Moved to services/disaster_relief/demo.py (run it with `python -m deploy.demo --domains
disaster_relief`). Kept for the callers that still import it: `build_plan(rng)`, `run(rpc_factory, rng, ...)`."""
from services.disaster_relief.demo import build_plan, drive as run  # noqa: F401
