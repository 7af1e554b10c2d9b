"""What the harness asks the platform to do: households with valid, never-repeated identity
numbers, and the command mix (register_household -> apply -> verify) as plain call lists."""
from __future__ import annotations

import itertools
import threading
from datetime import date, timedelta

from stdnum.cn import ric

AREA_CODE = "320404"          # Zhonglou District, Changzhou (GB/T 2260)
FIRST_BIRTH = date(1930, 1, 1)
AREAS = ("nandajie", "hehuachi", "wuxing", "yonghong", "beigang", "xilin", "xinzha")
# Areas with a rural standard in the reference data (see data/standards.json).
RURAL_AREAS = ("yonghong", "beigang", "xilin", "xinzha")


def id_number(k: int) -> str:
    """The k-th identity number of the run: birth date FIRST_BIRTH + k // 1000 days,
    sequence k % 1000, and the GB 11643-1999 check digit (stdnum computes it)."""
    born = FIRST_BIRTH + timedelta(days=k // 1000)
    body = f"{AREA_CODE}{born:%Y%m%d}{k % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def member(k: int, income: str = "0") -> dict:
    number = id_number(k)
    born = FIRST_BIRTH + timedelta(days=k // 1000)
    return {"id_number": number, "name": f"居民{k}", "birth_date": born.isoformat(),
            "monthly_income": income}


class Households:
    """Thread-safe source of household payloads, each with two members never used before."""

    def __init__(self, start: int = 0):
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> tuple[str, str, list[dict]]:
        with self._lock:
            n = next(self._counter)
        area = AREAS[n % len(AREAS)]
        registration = "rural" if area in RURAL_AREAS and n % 2 else "urban"
        return area, registration, [member(2 * n, "0"), member(2 * n + 1, "100")]


def household_cycle(rpc, households: Households):
    """register_household -> apply -> verify; yields after each command (for counting)."""
    area, registration, members = households.next()
    household_id = rpc.social_assistance.register_household(area, registration, members)
    yield "register_household", household_id
    case_id = rpc.social_assistance.apply(household_id, "officer-li")
    yield "apply", case_id
    rpc.social_assistance.verify(case_id, "officer-li", "100")
    yield "verify", case_id


EVENTS_PER_CYCLE = 8  # HouseholdRegistered; CaseApplied, HouseholdCaseOpened, 2 x (EnrolmentCreated, EnrolmentEnrolled); CaseVerified
