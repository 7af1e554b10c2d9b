"""A throwaway Nameko service for the integration tests, run with `nameko run` like the real ones:
- `sleep_in_db` shows whether database waits block the eventlet hub;
- `refuse` raises a typed error, to show what an RPC caller gets back;
- `on_household_registered` is a plain `@event_handler` consuming the relay's CloudEvents."""
from shared import nameko_support  # noqa: F401  (first, as in every service module)

import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import psycopg  # noqa: E402
from nameko.events import event_handler  # noqa: E402
from nameko.rpc import rpc  # noqa: E402

from shared.config import settings  # noqa: E402
from shared.errors import Conflict, InvalidInput  # noqa: E402


class Probe:
    name = "probe"

    @rpc
    def sleep_in_db(self, seconds):
        with psycopg.connect(settings().pg_conninfo()) as conn:
            start = time.time()
            conn.execute("SELECT pg_sleep(%s)", (seconds,))
            return [start, time.time()]

    @rpc
    def refuse(self, coded=True):
        if not coded:  # a raiser from before codes: no code travels
            raise InvalidInput("amount", "must not be negative")
        raise Conflict("officer", "approval must be by a different officer than the verifier (maker-checker)",
                       code="dibao.maker_checker")

    @event_handler("social_assistance", "HouseholdRegistered")
    def on_household_registered(self, payload):
        with open(os.environ["PROBE_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(json.dumps(payload, ensure_ascii=False) + "\n")
