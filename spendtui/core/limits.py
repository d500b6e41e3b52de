"""A budget amount from the config or a flag, as exact pico-dollars.

Kept apart from ``budget.py`` (which imports the session model) so the status line,
whose start-up is its cost, can read ``--session-budget`` with ``decimal`` alone.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

TYPE_CHECKING = False  # not from typing: the status line imports this module
if TYPE_CHECKING:
    from typing import Any

PICO = 10**12


class BudgetConfigError(ValueError):
    """A budget in the config or on the command line is not a positive amount of USD."""


def parse_usd(value: Any, where: str) -> int:
    """A positive USD amount (number or numeric string) -> exact pico-dollars."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise BudgetConfigError(f"{where}: expected a number of USD, got {value!r}")
    try:
        d = Decimal(str(value).strip().lstrip("$"))
    except InvalidOperation:
        raise BudgetConfigError(f"{where}: expected a number of USD, got {value!r}") from None
    if not d.is_finite() or d <= 0:
        raise BudgetConfigError(f"{where}: a budget must be a positive amount of USD, got {value!r}")
    return int((d * PICO).to_integral_value())
