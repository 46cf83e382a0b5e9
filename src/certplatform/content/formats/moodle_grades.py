"""The answer grades Moodle accepts, shared by the Moodle XML and GIFT readers and writers.

Moodle stores an answer's grade as a fraction from one fixed list,
`question_bank::fraction_options_full()`. Its importer matches each grade in a file against
that list within 0.00001 (`match_grade_options()` in 'error' mode), stores the listed value,
and refuses the question when a grade matches nothing. A multiple-response question whose
positive grades, rounded to two decimal places, do not add up to 1 is refused too.

The readers here do the same, so that a file imports here exactly when it imports into Moodle,
and the writers write only listed grades, so that what they write imports into Moodle.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import MAX_EMAX, MIN_EMIN, ROUND_HALF_UP, Context, Decimal

_POSITIVE = tuple(
    Decimal(text)
    for text in (
        "1",
        "0.9",
        "0.8333333",
        "0.8",
        "0.75",
        "0.7",
        "0.6666667",
        "0.6",
        "0.5",
        "0.4",
        "0.3333333",
        "0.3",
        "0.25",
        "0.2",
        "0.1666667",
        "0.1428571",
        "0.125",
        "0.1111111",
        "0.1",
        "0.05",
    )
)
GRADES: tuple[Decimal, ...] = (*_POSITIVE, Decimal(0), *(-g for g in reversed(_POSITIVE)))
_TOLERANCE = Decimal("0.00001")
_CENT = Decimal("0.01")
# No traps: showing an absurd grade from a file in a message must not raise.
_QUIET = Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])


class GradeError(ValueError):
    """A grade, or a set of grades, that Moodle refuses."""


def percent(fraction: Decimal) -> str:
    """`fraction` as a percentage the way a person writes it: 33.33333, 50, -25."""
    value = fraction.scaleb(2, _QUIET).normalize(_QUIET)
    return format(value, "f") if value.is_finite() and value.adjusted() < 6 else str(value)


_ALLOWED = ", ".join(f"{percent(g)}%" for g in _POSITIVE)


def grade(fraction: Decimal) -> Decimal:
    """The listed grade within Moodle's tolerance of `fraction`; GradeError if there is none."""
    # Anything past ±2 matches nothing; stopping here keeps huge exponents out of the arithmetic.
    if fraction.is_finite() and abs(fraction) <= 2:
        for listed in GRADES:
            if abs(fraction - listed) < _TOLERANCE:
                return listed
    raise GradeError(
        f"the grade {percent(fraction)}% is not one Moodle allows: "
        f"use 0%, or {_ALLOWED}, or the negative of one of these"
    )


def grade_of_weight(weight: float) -> Decimal:
    """The listed grade for a stored weight (repr gives the shortest decimal of the float)."""
    return grade(Decimal(repr(weight)))


def check_multiple_response(weights: Iterable[float]) -> None:
    """Raise GradeError unless the positive weights add up to 100 % as Moodle rounds them."""
    total = sum((Decimal(repr(w)) for w in weights if w > 0), Decimal(0))
    rounded = total.quantize(_CENT, rounding=ROUND_HALF_UP)
    if rounded != 1:
        raise GradeError(f"the positive grades add up to {percent(rounded)}%, not 100%")
