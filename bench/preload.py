"""Pre-loading stored events with the relay stopped: household cycles built with the domain
exactly as the application builds them (register, apply with enrolments, verify), saved
`per_save` cycles per atomic write, so that N events are in the store in seconds.

Runs in a child process (`python -m bench preload EVENTS START`): a plain process with the
platform's settings from the environment, like the relay.

`steady` (`python -m bench steady RATE SECONDS START`) stores events on a fixed schedule instead:
one registered household (one event) per transaction, event i at t0 + i / rate, for the
subscriptions' delivery lag (bench/subscriptions.py), where the command path is not measured."""
from __future__ import annotations

import json
import time
from decimal import Decimal

from bench.workload import Households


def cycle_aggregates(app, households: Households) -> list:
    from services.social_assistance.domain import Case, Enrolment, Household, normalise_member, per_capita
    from shared import identity
    area, registration, members = households.next()
    household = Household(area=area, registration=registration, address="",
                          members=[normalise_member(m, i) for i, m in enumerate(members)])
    case = Case(household_id=household.id, area=area, scheme=registration, size=household.size,
                applied_on="2007-06-01", officer="officer-li")
    household.open_case(case.id)
    enrolments = []
    for index, m in enumerate(household.members):
        enrolment = Enrolment(person_key=identity.pseudonym(m["id_number"], app.pseudonym_key))
        enrolment.enrol(case.id, f"members[{index}].id_number")
        enrolments.append(enrolment)
    income = Decimal("100.00")
    case.verify(officer="officer-li", household_income=income, assets=Decimal("0.00"),
                per_capita_income=per_capita(income, case.size))
    return [household, case, *enrolments]


def preload(events: int, start: int, per_save: int = 25) -> dict:
    from services.social_assistance.application import SocialAssistance
    app = SocialAssistance()
    households = Households(start)
    before = app.recorder.max_notification_id() or 0
    stored = 0
    began = time.perf_counter()
    while stored < events:
        aggregates = []
        for _ in range(per_save):
            aggregates.extend(cycle_aggregates(app, households))
        recordings = app.save(*aggregates)
        stored += len(recordings)
    elapsed = time.perf_counter() - began
    head = app.recorder.max_notification_id() or 0
    app.close()
    return {"preloaded_events": stored, "preload_seconds": elapsed, "preload_eps": stored / elapsed,
            "head_before": before, "head": head}


def household(households: Households):
    from services.social_assistance.domain import Household, normalise_member
    area, registration, members = households.next()
    return Household(area=area, registration=registration, address="",
                     members=[normalise_member(m, i) for i, m in enumerate(members)])


def steady(rate: float, seconds: float, start: int) -> dict:
    from services.social_assistance.application import SocialAssistance
    app = SocialAssistance()
    households = Households(start)
    app.save(household(households))            # warm: connections, cipher
    t0 = time.time() + 0.2
    stored, latest = 0, 0.0
    while (scheduled := t0 + stored / rate) < t0 + seconds:
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        latest = max(latest, time.time() - scheduled)
        app.save(household(households))
        stored += 1
    app.close()
    return {"stored": stored, "t0": t0, "seconds": time.time() - t0, "max_late_s": latest}


def child_main(events: str, start: str) -> int:
    print("RESULT " + json.dumps(preload(int(events), int(start))), flush=True)
    return 0
