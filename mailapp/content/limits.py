"""The limits of the template sandbox (`content.sandbox`): sizes, the work budget, the deadline.

Each check runs before an operation that could allocate a huge value in one step, `capped`
on every value created; both raise SandboxLimit naming the limit. start_render arms the
deadline and budget for the render running in this thread (a ContextVar).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps
from string import Formatter
from typing import Any

from jinja2.sandbox import SecurityError

MAX_VALUE_CHARS = 1_000_000  # the longest string (or printed list) a template may build
MAX_ITEMS = 100_000  # the longest list
MAX_INT_BITS = 4096  # about 1,200 digits
MAX_FORMAT_WIDTH = 1000  # widths and precisions in '%10s' and '{:>10}'
WORK_CHARS = 20_000_000  # everything one render creates, together

# (deadline, characters left to create) of the render running in this thread
_limits: ContextVar[tuple[float, list[int]] | None] = ContextVar("sandbox_limits", default=None)

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
# str methods a template may call: the harmless ones, and those _method_check checks
STR_METHODS = frozenset(
    (
        *("capitalize", "casefold", "center", "count", "endswith", "find", "format"),
        *("format_map", "index", "isalnum", "isalpha", "isdecimal", "isdigit", "islower"),
        *("isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip"),
        *("partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust"),
        *("rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip"),
        *("swapcase", "title", "upper", "zfill"),
    )
)


class RenderError(Exception):
    """A message could not be rendered; the reason is fit for a log line or the author."""


class SandboxLimit(SecurityError):
    """A template asked for more than the sandbox allows; the message names the limit."""


def start_render(max_seconds: float, work_chars: int = WORK_CHARS) -> object:
    """Arm the deadline and the work budget for one render; pass the token to end_render."""
    return _limits.set((time.monotonic() + max_seconds, [work_chars]))


def end_render(token: Any) -> None:
    """Disarm what start_render armed."""
    _limits.reset(token)


def check_deadline() -> None:
    """Raise once the running render is past its deadline."""
    limits = _limits.get()
    if limits is not None and time.monotonic() > limits[0]:
        raise RenderError("rendering took too long")


def spend(chars: int) -> None:
    """Count `chars` against the running render's work budget."""
    limits = _limits.get()
    if limits is None:
        return
    limits[1][0] -= chars
    if limits[1][0] < 0:
        raise SandboxLimit(f"the template builds more than {WORK_CHARS:,} characters in all")


def _weight(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """About the characters `value` prints as; stops counting once past `limit`."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            total += 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 * len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def capped(value: Any) -> Any:
    """`value`, if it is within every limit; SandboxLimit otherwise."""
    if isinstance(value, str):
        size = len(value)
        if size > MAX_VALUE_CHARS:
            raise SandboxLimit(f"a string longer than {MAX_VALUE_CHARS:,} characters")
    elif isinstance(value, bool | float) or value is None:
        return value
    elif isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise SandboxLimit(f"a number larger than {MAX_INT_BITS} bits")
        return value
    elif isinstance(value, list | tuple | dict | set | frozenset):
        if len(value) > MAX_ITEMS:
            raise SandboxLimit(f"a list longer than {MAX_ITEMS:,} items")
        size = _weight(value)
        if size > MAX_VALUE_CHARS:
            raise SandboxLimit(f"a list printing as more than {MAX_VALUE_CHARS:,} characters")
    else:
        return value
    spend(size)
    return value


def _refuse_beyond(size: float, what: str) -> None:
    if size > MAX_VALUE_CHARS:
        raise SandboxLimit(f"{what} would be longer than {MAX_VALUE_CHARS:,} characters")


def check_printf(fmt: Any) -> None:
    """Refuse a '%' format string with a huge or '*' width."""
    for width, precision in _PRINTF.findall(str(fmt)):
        if "*" in (width, precision):
            raise SandboxLimit("'*' widths are not allowed in format strings")
        if max(int(width or 0), int(precision or 0)) > MAX_FORMAT_WIDTH:
            raise SandboxLimit(f"format widths above {MAX_FORMAT_WIDTH} are not allowed")


def check_braces(fmt: str) -> None:
    """Refuse a str.format string with a huge or nested width."""
    for _literal, _field, spec, _conversion in Formatter().parse(fmt):
        if spec and "{" in spec:
            raise SandboxLimit("nested fields are not allowed in format strings")
        if spec and any(int(n) > MAX_FORMAT_WIDTH for n in re.findall(r"\d+", spec)):
            raise SandboxLimit(f"format widths above {MAX_FORMAT_WIDTH} are not allowed")


def _replaced_size(value: Any, old: Any, new: Any, count: Any = -1) -> float:
    text, old, new = str(value), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(len(new) - len(old), 0)


def _width(width: Any) -> int:
    return width if isinstance(width, int) else len(str(width))


def _indented_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> float:
    text = str(value)
    return len(text) + (text.count("\n") + 1) * _width(width)


def _wrapped_size(value: Any, width: int = 79, _break: bool = True, wrap: Any = None) -> float:
    text = str(value)
    lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n") + 1
    return len(text) + lines * len(str(wrap or "\n"))


def _check_replace(value: Any, *args: Any, **kwargs: Any) -> None:
    _refuse_beyond(_replaced_size(value, *args, **kwargs), "replace")


def _check_count(name: str) -> Callable[..., None]:
    """A check of a filter whose first argument is a width or a count (center, batch ...)."""

    def check(_value: Any, count: Any = 1, *_: Any, **__: Any) -> None:
        _refuse_beyond(_width(count), name)

    return check


def _check_indent(value: Any, *args: Any, **kwargs: Any) -> None:
    _refuse_beyond(_indented_size(value, *args, **kwargs), "indent")


def _check_wordwrap(value: Any, *args: Any, **kwargs: Any) -> None:
    wrap = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
    _refuse_beyond(_wrapped_size(value, *args[:2], wrap), "wordwrap")


def _check_tojson(_value: Any, indent: Any = None) -> None:
    _refuse_beyond(_width(indent or 0) * 1000, "tojson")  # every line repeats the indent


def _check_urlize(_value: Any, *args: Any, **kwargs: Any) -> None:
    # every link repeats target and rel
    longest = max((len(x) for x in (*args, *kwargs.values()) if isinstance(x, str)), default=0)
    _refuse_beyond(longest * 1000, "urlize")


def _check_striptags(value: Any) -> None:
    # markupsafe strips tags one at a time, copying the rest of the string each time
    text = str(value)
    _refuse_beyond(text.count("<") * len(text) / 100, "striptags")


def _check_sum(_value: Any, _attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, int | float):
        raise SandboxLimit("sum only adds numbers")


# Filter name -> check of (value, *args, **kwargs) before the filter runs.
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "replace": _check_replace,
    "center": _check_count("center"),
    "format": lambda value, *_, **__: check_printf(value),
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "batch": _check_count("batch"),
    "slice": _check_count("slice"),
    "tojson": _check_tojson,
    "urlize": _check_urlize,
    "striptags": _check_striptags,
    "sum": _check_sum,
}


def guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter `func`, checking its arguments before and its result after it runs."""
    check = _FILTER_CHECKS.get(name)
    skip = 1 if getattr(func, "jinja_pass_arg", None) else 0  # context/environment first

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_deadline()
        if name == "join":
            args = (*args[:skip], list(args[skip]), *args[skip + 1 :])
            separator = kwargs.get("d", args[skip + 1] if len(args) > skip + 1 else "")
            _refuse_beyond(len(str(separator)) * len(args[skip]), "join")
        elif check is not None:
            check(*args[skip:], **kwargs)
        return capped(func(*args, **kwargs))

    return guarded


def method_check(method: Any, args: tuple, kwargs: dict) -> tuple:
    """Check a str method call before it runs; the args to call it with."""
    name, text = method.__name__, method.__self__
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _refuse_beyond(_width(args[0]), name)
    elif name == "replace" and len(args) >= 2:
        _refuse_beyond(_replaced_size(text, *args[:3]), name)
    elif name == "join" and args:
        items = list(args[0])
        _refuse_beyond(len(text) * len(items), name)
        return (items, *args[1:])
    return args


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_power(base: Any, exponent: Any) -> None:
    """Refuse `base ** exponent` whose result would pass MAX_INT_BITS."""
    ints = _is_int(base) and _is_int(exponent)
    if ints and exponent > 0 and abs(base) > 1 and base.bit_length() * exponent > MAX_INT_BITS:
        raise SandboxLimit(f"a number larger than {MAX_INT_BITS} bits")


def check_product(left: Any, right: Any) -> None:
    """Refuse `left * right` whose result would pass a limit."""
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
            raise SandboxLimit(f"a number larger than {MAX_INT_BITS} bits")
        return
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and _is_int(count) and count > 0:
            if isinstance(seq, str):
                _refuse_beyond(len(seq) * count, "a string")
            elif len(seq) * count > MAX_ITEMS:
                raise SandboxLimit(f"a list longer than {MAX_ITEMS:,} items")
            else:
                _refuse_beyond(_weight(seq) * count, "a list")
