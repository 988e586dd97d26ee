"""SI values for SciCat's unit-aware search, computed with pint."""

from __future__ import annotations

import functools
import math
import re
import tokenize
from typing import Any, NamedTuple

import pint
from pint.util import string_preprocessor


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


#: A unit longer than this is none (people write "keV", "kg m^2 s^-2"; another writer's text can
#: be as long as a document). Its powers are checked by :func:`unit_problem`.
MAX_UNIT_CHARS = 64


#: A power's operator in the text pint evaluates (its preprocessor writes ``^``, ``squared``,
#: ``²`` as ``**``).
_POWER = re.compile(r"\*\*|\^")
#: What a power's exponent may be: a number of at most two digits (signed, with decimals), or
#: such a number or fraction in parentheses (``m**2``, ``s**-1``, ``m**(2)`` for ``m²``, ``m**(1/2)``).
_EXPONENT = re.compile(r"\s*(?:[-+]?\s*\d{1,2}(?:\.\d{1,6})?(?![\w.(])"
                       r"|\(\s*[-+]?\s*\d{1,2}(?:\.\d{1,6})?\s*(?:/\s*\d{1,2}\s*)?\))")
_CHAINED = re.compile(r"\s*(?:\*\*|\^)")


def _group_before(text: str, end: int) -> str:
    """The parenthesised group that ends just before ``end`` ("" when unbalanced)."""
    depth = 0
    for n in range(end - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[n], 0)
        if depth == 0:
            return text[n:end]
    return ""


def unit_problem(unit: str) -> str | None:
    """Why ``unit`` is no unit to hand to pint (None: it may be read).

    pint evaluates a unit as arithmetic on whole numbers, so a tower of powers has Python
    compute an integer of billions of digits (``m^((9))^((9))^9``: hours, holding the GIL;
    a plain pattern finds chains written plainly, and parentheses or pint's words hide them).
    A unit as people write it raises a name, a number or a group without powers to a small
    number, so that is what is let through: checked on the text pint evaluates (after its
    preprocessor), before every conversion (:func:`to_si`), so for every unit a request brings,
    a configuration names or a stored entry holds (capture, the catalogue migration, search)."""
    if len(unit) > MAX_UNIT_CHARS:  # before pint's preprocessor reads another writer's text
        return f"longer than {MAX_UNIT_CHARS} characters"
    text = string_preprocessor(unit)
    for power in _POWER.finditer(text):
        exponent = _EXPONENT.match(text, power.end())
        if exponent is None:
            return "a power's exponent is a number of at most two digits (m^2, s^-1, m^(1/2))"
        if _CHAINED.match(text, exponent.end()):
            return "a power of a power"
        before = text[:power.start()].rstrip()
        if before.endswith(")") and _POWER.search(_group_before(before, len(before)) or "**"):
            return "a power of a group that holds a power"
    return None


def _si_factor(unit: str) -> tuple[float, float, str] | None:
    """Return (scale, offset, SI unit) so that si = value * scale + offset, or None if unknown."""
    # The length bound before the cache: a long text (another writer's, up to a document's size)
    # is never kept as a cache key.
    return None if len(unit) > MAX_UNIT_CHARS else _bounded_si_factor(unit)


@functools.lru_cache(maxsize=4096)
def _bounded_si_factor(unit: str) -> tuple[float, float, str] | None:
    if unit_problem(unit) is not None:
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
    return scale, offset, scicat_unit_si({name: float(power.real) for name, power in one.unit_items()})


def pint_unit_si(unit: str) -> str | None:
    """``unit``'s SI unit as scizoo spelled ``unitSI`` before it followed SciCat (pint's compact
    form, ``kg*m**2/s**2``): what the catalogue migration looks for. None: not a unit."""
    return None if _si_factor(unit) is None else _pint_spelling(unit)


@functools.lru_cache(maxsize=1024)
def _pint_spelling(unit: str) -> str:
    return f"{_registry().Quantity(1.0, unit).to_base_units().units:~C}"


#: pint's SI base units as mathjs names them, in the order mathjs writes them (its
#: BASE_DIMENSIONS: mass, length, time, current, temperature, luminous intensity, amount of
#: substance, angle, bit).
_MATHJS_BASE = {"kilogram": "kg", "meter": "m", "second": "s", "ampere": "A", "kelvin": "K", "candela": "cd",
                "mole": "mol", "radian": "rad", "bit": "bits"}


def scicat_unit_si(powers: dict[str, float]) -> str:
    """An SI unit (pint's base unit names and their powers) spelled as the SciCat backend spells
    ``unitSI``: mathjs's ``Unit.formatUnits`` of ``toSI()``, e.g. ``(kg m^2) / s^2`` for eV,
    ``kg / (m s^2)`` for Pa, ``s^-1`` for Hz.

    SciCat's unit-aware search compares ``unitSI`` as a string, so any other spelling (pint's
    ``kg*m**2/s**2``, which scizoo wrote before) makes SciCat find none of our values. Written
    here rather than by running mathjs: its rule is a dozen lines (numerator, then `` / ``,
    parentheses around more than one unit on a side that has a partner) and checked against
    mathjs's own answers (tests/unit/mathjs_units.json). A base unit mathjs does not have
    (pint's ``count``) keeps pint's name: SciCat cannot convert it either.
    """
    order = [*(_MATHJS_BASE[name] for name in _MATHJS_BASE if name in powers),
             *(name for name in powers if name not in _MATHJS_BASE)]
    named = {_MATHJS_BASE.get(name, name): power for name, power in powers.items()}
    up = [(name, named[name]) for name in order if named[name] > 0]
    down = [(name, named[name]) for name in order if named[name] < 0]
    top = " ".join(name if power == 1 else f"{name}^{_js_number(power)}" for name, power in up)
    if not up:  # only negative powers: mathjs writes them as they are ("s^-1")
        return " ".join(f"{name}^{_js_number(power)}" for name, power in down)
    bottom = " ".join(name if power == -1 else f"{name}^{_js_number(-power)}" for name, power in down)
    if not down:
        return top
    return f"{f'({top})' if len(up) > 1 else top} / {f'({bottom})' if len(down) > 1 else bottom}"


def _js_number(power: float) -> str:
    """A power as JavaScript prints a number: 2, not 2.0; 0.5 as is."""
    return str(int(power)) if float(power).is_integer() else repr(float(power))


def convert(value: float, unit: str, wanted: str) -> float | None:
    """``value`` in ``unit`` expressed in ``wanted`` (12 significant digits, as :func:`to_si`
    rounds), or None when either unit is unknown or they measure different things. Straight
    from unit to unit: through a rounded SI value, 7130 eV came back as 7.12999999999 keV."""
    have, want = _si_factor(unit) if unit else (1.0, 0.0, ""), _si_factor(wanted) if wanted else (1.0, 0.0, "")
    if have is None or want is None or have[2] != want[2] or want[0] == 0 or not math.isfinite(value):
        return None
    result = (value * have[0] + have[1] - want[1]) / want[0]
    return float(f"{result:.12g}") if math.isfinite(result) else None


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
