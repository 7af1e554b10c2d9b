"""Domain layer, shared by every domain: checks of plain input (text, a choice, a count, a
person), each a typed error naming the field with a stable rule code. No framework here."""
from __future__ import annotations

from datetime import date

from shared import identity
from shared.errors import InvalidInput
from shared.money import month, parse_date


def check_text(value, field: str, what: str = "text") -> str:
    """Non-empty text, trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must give the {what} (non-empty)", code="input.empty_text")
    return value.strip()


def check_choice(value, choices, field: str):
    """One of `choices` (a bool is never one, even where 1 or 0 is)."""
    if isinstance(value, bool) or value not in choices:
        raise InvalidInput(field, f"must be one of: {', '.join(map(str, choices))}", code="input.not_a_choice")
    return value


def check_count(value, field: str, minimum: int) -> int:
    """A whole number (not a bool) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(field, f"must be a whole number of at least {minimum}",
                           code="input.whole_number_below_minimum")
    return value


def normalise_person(id_number, name, birth_date=None) -> dict:
    """A person as stored: compact identity number, trimmed name, ISO birth date when given (it
    must match the one in the identity number)."""
    number = identity.validate(id_number, "id_number")
    person = {"id_number": number, "name": check_text(name, "name", "person's name")}
    if birth_date is not None:
        born = parse_date(birth_date, "birth_date")
        if born != identity.birth_date(number):
            raise InvalidInput("birth_date", "must match the birth date in the identity number",
                               code="identity.birth_date_mismatch")
        person["birth_date"] = born.isoformat()
    return person


def past_day(value, field: str, today: date) -> str:
    """An ISO date not after `today`."""
    day = parse_date(value, field)
    if day > today:
        raise InvalidInput(field, f"must not be in the future (today is {today.isoformat()})",
                           code="input.future_date")
    return day.isoformat()


def past_month(value, field: str, today: date) -> str:
    """A YYYY-MM month not after today's."""
    month(value, field)
    if value > today.isoformat()[:7]:
        raise InvalidInput(field, f"must not be a future month (today is {today.isoformat()})",
                           code="input.future_month")
    return value


def shown(reveal_identity: bool):
    """How an identity number is shown in an answer: whole when revealed, else masked."""
    return (lambda number: number) if reveal_identity else identity.mask
