"""The payment run at city scale (issue 14): CASES active dibao cases, then the monthly payment
run, the year-end extra month, the same month again and (after the months between) the
December run over cases with half a year of payments, timed through the application exactly
as the service runs them (`SocialAssistance.run_payments`, `pay_year_end_extra`), with progress.

The cases are stored first through the domain (a household cycle as bench/preload.py builds it,
approved by a second officer, the caseload activating each; `per_save` cases per atomic write),
so that only the runs are timed. Runs in a child process of its own (`python -m bench payments
CASES START`), a plain process with the platform's settings from the environment; progress goes
to stderr, the figures to stdout as one RESULT line."""
from __future__ import annotations

import json
import sys
import time

from bench.preload import cycle_aggregates
from bench.workload import Households
from shared.progress import Progress

MONTH = "2007-07"           # the month paid; every case is approved from APPROVED_FROM
APPROVED_FROM = "2007-01"
YEAR = 2007
# Then the months to the year's end, the last one timed: a run over cases with a history of
# payments (and the snapshots that keep reading it short), as a district's runs are.
LATER_MONTHS = ("2007-08", "2007-09", "2007-10", "2007-11")
LAST_MONTH = "2007-12"


def progress(label: str) -> Progress:
    """Progress lines on stderr (the parent passes them through), as the service logs them."""
    return Progress(label, write=lambda line: print(f"  {line}", file=sys.stderr, flush=True))


def store_active_cases(app, cases: int, start: int, per_save: int = 100) -> float:
    """CASES approved cases in the store and in the caseload; returns the seconds it took."""
    households, began = Households(start), time.perf_counter()
    caseload = app._caseload()      # kept across the batches: nothing else writes it meanwhile
    show = progress("storing active cases")
    for begin in range(0, cases, per_save):
        batch = []
        for _ in range(min(per_save, cases - begin)):
            household, case, *enrolments = cycle_aggregates(app, households)
            case.approve("officer-wang", APPROVED_FROM, app._standard(case.area, case.scheme, APPROVED_FROM))
            caseload.activate(case.id, case.area)
            batch += [household, case, *enrolments]
        app.save(*batch, caseload)
        show(min(begin + per_save, cases), cases)
    return time.perf_counter() - began


def timed(label: str, run) -> dict:
    began = time.perf_counter()
    result = run(progress(label))
    seconds = time.perf_counter() - began
    return {**result, "seconds": seconds, "eps": result["paid"] / seconds if result["paid"] else 0.0}


def measure(cases: int, start: int) -> dict:
    from services.social_assistance.application import SocialAssistance
    app = SocialAssistance()
    app.load_reference_standards()
    stored = store_active_cases(app, cases, start)
    monthly = timed(f"payment run {MONTH}", lambda show: app.run_payments(MONTH, on_progress=show))
    year_end = timed(f"year-end extra {YEAR}", lambda show: app.pay_year_end_extra(YEAR, on_progress=show))
    again = timed(f"payment run {MONTH} again", lambda show: app.run_payments(MONTH, on_progress=show))
    for month_ in LATER_MONTHS:     # each case gains an event a month, as in a year of runs
        app.run_payments(month_, on_progress=progress(f"payment run {month_}"))
    later = timed(f"payment run {LAST_MONTH}", lambda show: app.run_payments(LAST_MONTH, on_progress=show))
    app.close()
    return {"cases": cases, "store_seconds": stored, "monthly": monthly, "year_end": year_end, "again": again,
            "later": later, "later_eps": later["eps"],
            "eps": monthly["eps"], "year_end_eps": year_end["eps"],
            "projected_seconds": {str(n): n / monthly["eps"] for n in (100_000, 1_000_000)} if monthly["eps"] else {}}


def child_main(cases: str, start: str) -> int:
    print("RESULT " + json.dumps(measure(int(cases), int(start))), flush=True)
    return 0
