"""Domain layer: yuan amounts as Decimal to the fen, and months as 'YYYY-MM' strings."""
from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from shared.errors import InvalidInput

FEN = Decimal("0.01")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


CEILING = Decimal(10) ** 15  # yuan: beyond any amount of the bureau's; keeps fen arithmetic exact
_MAX_TEXT = 100             # characters of an amount written as text


def yuan(value, field: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """Parse a yuan amount (str, int or Decimal; floats are refused as imprecise).

    Never raises decimal.InvalidOperation or Overflow: "1e400", fifty digits, "NaN", "sNaN",
    "Infinity" or a megabyte of digits are refused with InvalidInput and a code."""
    if isinstance(value, float) or isinstance(value, bool):
        raise InvalidInput(field, "must be a decimal string or integer, not a float",
                           code="money.float_refused")
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        raise InvalidInput(field, f"must be at most {_MAX_TEXT} characters", code="money.too_long")
    try:
        amount = Decimal(str(value).strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidInput(field, "must be a decimal amount in yuan", code="money.not_decimal") from None
    if not amount.is_finite():   # NaN, sNaN, Infinity: before any comparison (sNaN raises)
        raise InvalidInput(field, "must be a finite amount", code="money.not_finite")
    if amount < 0 and not allow_negative:
        raise InvalidInput(field, "must not be negative", code="money.negative")
    if abs(amount) >= CEILING:
        raise InvalidInput(field, f"must be below {CEILING:,} yuan", code="money.above_ceiling")
    if amount != amount.quantize(FEN):   # exact: at most 15 + 2 digits, under the context's 28
        raise InvalidInput(field, "must be given to the fen (at most 2 decimal places)",
                           code="money.beyond_fen")
    return amount.quantize(FEN)


def to_fen(amount: Decimal) -> Decimal:
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def month(value, field: str = "month") -> str:
    if not isinstance(value, str) or not MONTH.match(value):
        raise InvalidInput(field, "must be a month written YYYY-MM", code="input.not_month")
    return value


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_date(value, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, "must be a date written YYYY-MM-DD", code="input.not_date") from None
