"""Model prices the operator sets (`DEPUTY_LLM_PRICES`) for models litellm has no price for, or to override it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per million tokens, as providers quote them."""

    input: float
    output: float
    cached: float | None = None

    def usd(self, tokens_in: int, tokens_out: int, cached: int = 0) -> float:
        cached_rate = self.input if self.cached is None else self.cached
        return ((tokens_in - cached) * self.input + cached * cached_rate + tokens_out * self.output) / 1e6


def parse_prices(value: str) -> dict[str, Price]:
    """`DEPUTY_LLM_PRICES`: `model=in/out[/cached]` in USD per million tokens, comma-separated."""
    prices: dict[str, Price] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        model, sep, rates = item.rpartition("=")
        numbers = rates.split("/")
        if not sep or not model or len(numbers) not in (2, 3):
            raise ValueError(f"{item!r}: write model=input/output[/cached] in USD per million tokens")
        try:
            values = [float(n) for n in numbers]
        except ValueError:
            raise ValueError(f"{item!r}: prices must be numbers") from None
        if any(v < 0 for v in values):
            raise ValueError(f"{item!r}: prices can't be negative")
        prices[model.strip()] = Price(*values)
    return prices
