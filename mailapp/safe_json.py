"""Parsing JSON from outside (request bodies, ESP webhooks) with limits on its shape.

Python's parser raises RecursionError (not ValueError) on deep nesting, and accepts integers
of any size (which the database then refuses with an OverflowError) and NaN. `loads` turns both into
a JSONLimitError (a ValueError) naming the problem, so callers answer 400 and change nothing.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # arrays and objects inside each other
MAX_INT = 2**63 - 1  # the largest id or count a BIGINT column holds


class JSONLimitError(ValueError):
    """Well-formed JSON beyond the limits (too deep, a number out of range)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(number := int(text)) > MAX_INT:
        raise JSONLimitError(f"the number {text[:24]}… is out of range")
    return number


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONLimitError(f"the number {text[:24]} is out of range")
    return number


def _no_constant(name: str) -> float:
    raise JSONLimitError(f"{name} is not a JSON number")


def loads(data: str | bytes, **kwargs: Any) -> Any:
    """json.loads, refusing (ValueError) nesting deeper than MAX_DEPTH, huge integers, NaN."""
    try:
        value = json.loads(
            data,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_no_constant,
            **kwargs,
        )
    except RecursionError:
        raise JSONLimitError(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    check_depth(value)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse (ValueError) a parsed value with lists or dicts nested deeper than `limit`."""
    level = [value]
    for _depth in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
        if not level:
            return
    raise JSONLimitError(f"the JSON is nested deeper than {limit} levels")
