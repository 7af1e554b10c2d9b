"""Helpers of the welfare tests: the application on in-memory persistence (AES cipher on),
people with valid identity numbers, and small set-ups the stories share."""
from __future__ import annotations

import itertools
from datetime import date

from eventsourcing.cipher import AESCipher
from stdnum.cn import ric

TODAY = date(2007, 12, 31)
_serial = itertools.count(1)


def memory_welfare(today: date = TODAY):
    from services.welfare.application import Welfare
    return Welfare({"PERSISTENCE_MODULE": "eventsourcing.popo",
                    "CIPHER_KEY": AESCipher.create_key(32)}, today=lambda: today)


def postgres_welfare(today: date = TODAY):
    """The application on the session's real PostgreSQL database (see tests/conftest.py)."""
    from services.welfare.application import Welfare
    return Welfare(today=lambda: today)


def person(name: str = "王秀英", born: str = "1930-05-06", area_code: str = "320404") -> dict:
    """A person with a valid GB 11643-1999 number (check digit by python-stdnum)."""
    body = f"{area_code}{born.replace('-', '')}{next(_serial) % 1000:03d}"
    return {"id_number": body + ric.calc_check_digit(body + "0"), "name": name, "birth_date": born}


def worker(name: str = "李娟") -> dict:
    found = person(name, "1965-03-08")
    return {"id_number": found["id_number"], "name": name}


def admit(app, institution_id: str, who: dict | None = None, on: str = "2007-02-01", bed=None) -> str:
    who = who or person()
    return app.admit(institution_id, who["id_number"], who["name"], who["birth_date"], on, bed)


def enterprise_with(app, disabled: int, other_staff: int, area: str = "xilin",
                    ownership: str = "collective") -> tuple[str, list[dict]]:
    """A welfare enterprise with `disabled` disabled employees hired in January."""
    enterprise = app.register_enterprise(area, "钟楼福利纸箱厂", ownership, other_staff, "1992-05-01")
    employees = [worker(f"职工{i}") for i in range(disabled)]
    for employee in employees:
        app.hire_disabled_employee(enterprise, employee["id_number"], employee["name"], "2007-01-08")
    return enterprise, employees
