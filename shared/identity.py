"""Domain layer: resident identity numbers (GB 11643-1999).

The check digit is verified by python-stdnum (`stdnum.cn.ric`), never by hand. Numbers are
personal data: they are masked for anyone without a need to see them, and looked up by a keyed
hash (HMAC) so an index never holds the number itself.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid

from stdnum import exceptions as stdnum_errors
from stdnum import numdb
from stdnum.cn import ric

from shared.errors import InvalidInput

_RULES = {  # stdnum's error -> (code, rule)
    stdnum_errors.InvalidChecksum: ("identity.check_digit",
                                    "check digit does not match (GB 11643-1999, ISO 7064 MOD 11-2)"),
    stdnum_errors.InvalidLength: ("identity.length", "must be 18 characters (GB 11643-1999)"),
    stdnum_errors.InvalidFormat: ("identity.format",
                                  "must be 17 digits and a check digit or X (GB 11643-1999)"),
    stdnum_errors.InvalidComponent: ("identity.invalid_component",
                                     "birth date or address code is not valid (GB 11643-1999)"),
}


def validate(value, field: str = "id_number") -> str:
    """Return the compact, upper-case number, or raise InvalidInput naming the rule broken."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string of 18 characters (GB 11643-1999)",
                           code="identity.not_string")
    try:
        return ric.validate(value)
    except stdnum_errors.InvalidComponent:
        return _check_components(ric.compact(value), field)
    except stdnum_errors.ValidationError as error:
        code, rule = _RULES.get(type(error), ("identity.invalid", "is not a valid resident identity number"))
        raise InvalidInput(field, rule, code=code) from None


def _check_components(number: str, field: str) -> str:
    """stdnum also demands that the address code existed in the birth year; but numbers were
    first issued in 1984, so a person born in 1960 rightly holds a code created in 1983.
    Keep the birth-date check and require only a known address code."""
    try:
        ric.get_birth_date(number)
    except stdnum_errors.ValidationError:
        raise InvalidInput(field, "birth date is not a valid date (GB 11643-1999)",
                           code="identity.birth_date_invalid") from None
    if not any(props.get("county") for _part, props in numdb.get("cn/loc").info(number[:6])):
        raise InvalidInput(field, "address code is not a known administrative division (GB/T 2260)",
                           code="identity.unknown_address_code")
    return number


def mask(number: str) -> str:
    """Show the address code and the last four characters: 320404********1234."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def birth_date(number: str):
    return ric.get_birth_date(number)


def pseudonym(number: str, key: bytes) -> uuid.UUID:
    """A stable id for a person that cannot be reversed without the key."""
    digest = hmac.new(key, number.encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=digest[:16], version=5)
