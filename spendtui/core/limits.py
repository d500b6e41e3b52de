"""A budget amount from the config or a flag, as exact pico-dollars.

Kept apart from ``budget.py`` (which imports the session model) so the status line,
whose start-up is its cost, can read ``--session-budget 5`` with nothing imported:
plain decimal text is converted exactly by hand, anything else through ``decimal``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not from typing: the status line imports this module
if TYPE_CHECKING:
    from typing import Any

PICO = 10**12


class BudgetConfigError(ValueError):
    """A budget in the config or on the command line is not a positive amount of USD."""


def _plain_pico(text: str) -> int | None:
    """``"5"``, ``"$2.50"``, ``".5"`` -> pico-dollars, exactly; None for anything else."""
    whole, _dot, frac = text.strip().lstrip("$").partition(".")
    if not (whole or frac) or len(frac) > 12:
        return None
    for part in (whole, frac):
        if part and not (part.isascii() and part.isdigit()):
            return None
    return int(whole or "0") * PICO + int((frac + "0" * 12)[:12])


def parse_usd(value: Any, where: str) -> int:
    """A positive USD amount (number or numeric string) -> exact pico-dollars."""
    pico = _plain_pico(value) if isinstance(value, str) else None
    if pico is None:
        from decimal import Decimal, InvalidOperation

        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise BudgetConfigError(f"{where}: expected a number of USD, got {value!r}")
        try:
            d = Decimal(str(value).strip().lstrip("$"))
        except InvalidOperation:
            raise BudgetConfigError(f"{where}: expected a number of USD, got {value!r}") from None
        if not d.is_finite():
            raise BudgetConfigError(f"{where}: a budget must be a positive amount of USD, got {value!r}")
        pico = int((d * PICO).to_integral_value())
        if d <= 0:
            pico = 0
    if pico <= 0:
        raise BudgetConfigError(f"{where}: a budget must be a positive amount of USD, got {value!r}")
    return pico
