"""Numbers and dates as a French reader writes them ("1 234,5", "28,6 %", "+0,4",
« lundi 2 mars 2026 à 09:00 »), through Babel's locale data, so that maps, tables, pages and
messages agree with each other and with CLDR: one convention, written nowhere else.

Single values (legends, messages) go through Babel's formatter; whole columns (a tooltip per
commune) are formatted by Python's C formatting and given Babel's French symbols, so that a
national map does not call Babel 35,000 times.
"""

from __future__ import annotations

from datetime import date as date_type
from datetime import datetime
from functools import cache

import numpy as np
import pandas as pd
from babel import dates, numbers

LOCALE = "fr_FR"


@cache
def _symbols() -> tuple[str, str]:
    """The French decimal and grouping symbols (a comma and a narrow no-break space)."""
    return numbers.get_decimal_symbol(LOCALE), numbers.get_group_symbol(LOCALE)


def number(value: float, digits: int = 2, signed: bool = False) -> str:
    """One number with up to ``digits`` decimals and grouped thousands: 1 234,57."""
    decimals = "#" * digits
    pattern = f"#,##0{'.' + decimals if digits else ''}"
    if signed:
        pattern = f"+{pattern};-{pattern}"
    return numbers.format_decimal(value, format=pattern, locale=LOCALE)


def percent(share: float, digits: int = 1) -> str:
    """A share as a percentage: 0.2864 → 28,6 %."""
    pattern = f"#,##0{'.' + '0' * digits if digits else ''}\u00a0%"
    return numbers.format_percent(share, format=pattern, locale=LOCALE)


def numbers_column(values: pd.Series, digits: int = 2, signed: bool = False) -> pd.Series:
    """A column of numbers as French text, "" where missing: up to ``digits`` decimals
    (trailing zeros dropped, as :func:`number` does), thousands grouped."""
    decimal, group = _symbols()
    floats = values.astype(float)
    sign = "+" if signed else ""
    text = floats.map(lambda v: f"{v:{sign},.{digits}f}" if np.isfinite(v) else "").astype(str)
    if digits:
        text = text.str.replace(r"\.?0+$", "", regex=True).where(text != "", "")
    text = text.replace({"-0": "0", "+0": "0"})
    return text.str.replace(",", "\x00").str.replace(".", decimal).str.replace("\x00", group)


def day(value: date_type, *, long: bool = False) -> str:
    """A calendar day as French readers write it: 07/03/1938, or « lundi 7 mars 1938 »."""
    pattern = "EEEE d MMMM y" if long else "dd/MM/y"
    return dates.format_date(value, format=pattern, locale=LOCALE)


def day_and_time(moment: datetime) -> str:
    """A moment in its own time zone, as French readers say it: « lundi 2 mars 2026 à 09:30 »."""
    return f"{day(moment.date(), long=True)} à {hour(moment)}"


def weekdays() -> list[str]:
    """« lundi » … « dimanche », Monday first (as ``date.weekday`` counts)."""
    names = dates.get_day_names("wide", locale=LOCALE)
    return [str(names[number]) for number in range(7)]


def weekday(value: date_type) -> str:
    """A day in a calendar's column head: « lun. 7 déc. »."""
    return dates.format_date(value, format="EEE d MMM", locale=LOCALE)


def fixed(value: float | None, digits: int = 0) -> str:
    """A number with exactly ``digits`` decimals, thousands grouped (12 345,6); "—" for none:
    the figures of pages and tables."""
    if value is None:
        return "—"
    pattern = f"#,##0{'.' + '0' * digits if digits else ''}"
    return numbers.format_decimal(value, format=pattern, locale=LOCALE)


def short_moment(value: datetime) -> str:
    """« 02/03/2026 09:00 »: a moment in a table's cell."""
    return dates.format_datetime(value, "dd/MM/y HH:mm", locale=LOCALE)


def hour(value: datetime) -> str:
    """« 09:00 »."""
    return dates.format_time(value, "HH:mm", locale=LOCALE)


@cache
def month_abbreviations() -> tuple[str, ...]:
    """« janv. », « févr. » … « déc. »: the column heads of a year's table."""
    names = dates.get_month_names("abbreviated", locale=LOCALE)
    return tuple(names[month] for month in range(1, 13))
