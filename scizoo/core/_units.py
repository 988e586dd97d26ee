"""SI values for SciCat's unit-aware search, computed with pint."""

from __future__ import annotations

import functools
import math
import re
import tokenize
from typing import Any, NamedTuple

import pint


class SIValue(NamedTuple):
    value: float
    unit: str


@functools.cache
def _registry() -> pint.UnitRegistry[Any]:
    # Built on first use: a registry takes a noticeable fraction of a second to load.
    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


#: What pint raises for a unit text it cannot read: its own errors, and those of the expression
#: parser under it ("(" is a TokenError, "1/0" a ZeroDivisionError, "kg**1000000" an
#: OverflowError). A configured unit is people's text: any of these means "no SI value", never
#: a scan that cannot be catalogued.
_NOT_A_UNIT = (pint.errors.PintError, AttributeError, TypeError, ValueError, AssertionError, ArithmeticError,
               KeyError, SyntaxError, tokenize.TokenError)


#: A unit is a name, prefixes and small powers ("keV", "m/s**2", "mm^3"). pint reads it as an
#: arithmetic expression with whole numbers, so "9**9**9" would have Python compute an integer
#: of hundreds of millions of digits (hours, holding the GIL): a chain of powers, or a power or
#: number of more than two digits, is no unit anyone writes and is refused before pint sees it.
_RUNAWAY = re.compile(r"(\*\*|\^)\s*[-+]?\(?\s*[\w.]+\s*\)?\s*(\*\*|\^)|(\*\*|\^)\s*[-+(]?\s*\d{3}|\d{7}")
MAX_UNIT_CHARS = 64


@functools.lru_cache(maxsize=4096)
def _si_factor(unit: str) -> tuple[float, float, str] | None:
    """Return (scale, offset, SI unit) so that si = value * scale + offset, or None if unknown."""
    if len(unit) > MAX_UNIT_CHARS or _RUNAWAY.search(unit):
        return None
    ureg = _registry()
    try:
        zero = ureg.Quantity(0.0, unit).to_base_units()
        one = ureg.Quantity(1.0, unit).to_base_units()
    except _NOT_A_UNIT:
        return None
    offset = float(zero.magnitude)
    scale = float(one.magnitude) - offset
    if not (math.isfinite(scale) and math.isfinite(offset)):
        return None
    return scale, offset, f"{one.units:~C}"


def to_si(value: Any, unit: str) -> SIValue | None:
    """Convert a number with a unit to SI base units.

    Returns None when the value is not a finite number or the unit is unknown to pint,
    so the caller keeps the raw value and unit only.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    if not unit:
        return SIValue(float(value), "")
    factor = _si_factor(unit)
    if factor is None:
        return None
    scale, offset, si_unit = factor
    # To 12 significant digits: a conversion leaves float noise in the last digits, so 9.5 keV
    # (1.5220678022999998e-15 J) and 9500 eV (1.5220678023e-15 J) would differ, and a search
    # "below 9500 eV" would find a scan stored as 9.5 keV. Rounded, the same quantity is the
    # same number whichever unit it came in.
    return SIValue(float(f"{value * scale + offset:.12g}"), si_unit)
