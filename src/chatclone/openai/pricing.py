"""What OpenAI would charge to fine-tune on a number of tokens.

`estimate_cost` turns training tokens into dollars from `OPENAI_TRAINING_PRICES`, a dated table:
prices change, so the estimate always carries the table's date and accepts an override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatclone.errors import ChatcloneError
from chatclone.openai.tokens import base_model, counts_exactly, is_openai_model

# USD per 1M training tokens for OpenAI's supervised fine-tuning, from OpenAI's pricing page
# (https://openai.com/api/pricing/, "Fine-tuning"; also platform.openai.com/docs/pricing) as
# published around PRICES_AS_OF. Prices change: check the page before relying on the estimate,
# or pass an override (`--price-per-million`).
PRICES_AS_OF = "2025-06-01"
OPENAI_TRAINING_PRICES: dict[str, float] = {
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-4o-2024-08-06": 25.00,
    "gpt-4o-mini-2024-07-18": 3.00,
    "gpt-3.5-turbo-0125": 8.00,
}


@dataclass
class CostEstimate:
    """What OpenAI would charge to train on the tokens: tokens × epochs × price."""

    model: str
    tokens: int  # training tokens in one epoch
    epochs: int
    billed_tokens: int
    usd: float | None  # None: no known price for the model and no override
    price_per_million: float | None
    prices_as_of: str | None  # None when the price was an override
    exact_tokens: bool
    note: str


def training_price(model: str) -> float | None:
    """USD per 1M training tokens from the dated table; a fine-tuned model ("ft:BASE:…") trains
    at its base's price, and a name without its date ("gpt-4.1-mini") at the dated one's."""
    base = base_model(model)
    if base in OPENAI_TRAINING_PRICES:
        return OPENAI_TRAINING_PRICES[base]
    dated = re.compile(re.escape(base) + r"-\d{4}(?:-\d{2}-\d{2})?")
    matches = [p for name, p in OPENAI_TRAINING_PRICES.items() if dated.fullmatch(name)]
    return matches[0] if len(matches) == 1 else None


def estimate_cost(
    train_tokens: int,
    epochs: int,
    model: str,
    price_per_million: float | None = None,
    *,
    exact_tokens: bool | None = None,
) -> CostEstimate:
    """The training cost of `train_tokens` over `epochs` on `model`.

    `exact_tokens`: whether the tokens were counted with the model's own encoding. None assumes
    they came from `dataset.tokens.counter_for(model)`, which is exact only with tiktoken's
    encoding cached; pass False when they were counted with another model's tokenizer.
    """
    if train_tokens < 0 or epochs < 1:
        raise ChatcloneError(f"cannot estimate a cost for {train_tokens} tokens × {epochs} epochs")
    if price_per_million is not None and price_per_million < 0:
        raise ChatcloneError(f"a price cannot be negative ({price_per_million})")
    if exact_tokens is None:
        exact_tokens = is_openai_model(model) and counts_exactly(model)
    billed = train_tokens * epochs
    notes = []
    price: float | None
    as_of: str | None
    if price_per_million is not None:
        price, as_of = price_per_million, None
        notes.append("price given as an override")
    else:
        price, as_of = training_price(model), PRICES_AS_OF
        if price is None:
            known = ", ".join(OPENAI_TRAINING_PRICES)
            notes.append(f"no known training price for {model} (known: {known}); pass a price")
        else:
            notes.append(f"OpenAI's published price as of {PRICES_AS_OF}; prices change")
    if not exact_tokens:
        notes.append(f"tokens are an approximation of {model}'s count")
    usd = round(billed * price / 1_000_000, 4) if price is not None else None
    return CostEstimate(
        model, train_tokens, epochs, billed, usd, price, as_of, exact_tokens, "; ".join(notes)
    )
