"""The Jinja sandbox authors' templates run in, with a size limit on every value it creates.

On top of Jinja's ImmutableSandboxedEnvironment (no `_` attributes, no unsafe callables, no
mutation of lists and dicts):
- every value an operator, filter, method call, `~` or list/dict literal creates is checked
  before it can grow past MAX_VALUE_CHARS characters (strings, and the text a list or dict
  would print as), MAX_ITEMS items or MAX_INT_BITS bits; operations that would allocate a
  huge value in one step (`*`, `**`, `replace`, `center`, `format`, `join` ...) are refused
  before they run, the others checked on their result;
- what one render creates, buffered output of `{% set %}`/macros/`{% filter %}` included,
  counts against a budget (WORK_CHARS), so many values each under the limit cannot add up;
- the render deadline is checked on every loop iteration and every call, so a loop that
  outputs nothing stops too.
A refusal is a SandboxLimit (a SecurityError) whose message says which limit was hit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from mailapp.content.limits import (
    STR_METHODS,
    capped,
    check_braces,
    check_deadline,
    check_power,
    check_printf,
    check_product,
    guard_filter,
    method_check,
    spend,
)

_GUARD = nodes.EnvironmentAttribute("guard_iter")


class _LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator, routing loops, `~`, literals and buffers through the limits."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 - Jinja's API
        # The loop runs over environment.guard_iter(iterable), which checks the deadline.
        guarded = isinstance(node.iter, nodes.Call) and node.iter.node == _GUARD
        if not guarded:
            node.iter = nodes.Call(_GUARD, [node.iter], [], None, None, lineno=node.lineno)
        super().visit_For(node, frame)

    def _capped(self, visit: Callable[..., None], node: nodes.Node, frame: Frame) -> None:
        self.write("environment.capped(")
        visit(node, frame)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's API
        self._capped(super().visit_Concat, node, frame)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:  # noqa: N802 - Jinja's API
        self._capped(super().visit_List, node, frame)

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:  # noqa: N802 - Jinja's API
        self._capped(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:  # noqa: N802 - Jinja's API
        if node.ctx == "load":
            self._capped(super().visit_Tuple, node, frame)
        else:  # an assignment target: `{% for a, b in ... %}`
            super().visit_Tuple(node, frame)

    def buffer(self, frame: Frame) -> None:
        # `{% set %}` blocks, macros, `{% filter %}`: output that never reaches render's cap
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")


class _OutputBuffer(list):
    """A buffer of template output whose every piece counts against the work budget."""

    def append(self, item: Any) -> None:
        spend(len(item))
        super().append(item)

    def extend(self, items: Iterable[Any]) -> None:
        items = list(items)
        spend(sum(len(item) for item in items))
        super().extend(items)


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with value limits, a work budget and a loop-aware deadline."""

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: guard_filter(name, f) for name, f in self.filters.items()}

    @staticmethod
    def capped(value: Any) -> Any:
        return capped(value)

    @staticmethod
    def output_buffer() -> list:
        return _OutputBuffer()

    @staticmethod
    def guard_iter(iterable: Any) -> Iterator[Any]:
        for count, item in enumerate(iterable):
            if not count & 7:
                check_deadline()
            yield item

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str) and callable(value) and attr not in STR_METHODS:
            return False  # translate, expandtabs, encode ...: nothing a message needs
        return super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Jinja's default renders an unsafe attribute as empty; refuse it loudly instead.
        raise SecurityError(f"access to attribute {attribute!r} is not allowed")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        check_braces(str(value.__self__))
        return lambda *args, **kwargs: capped(wrapper(*args, **kwargs))

    def call(self, context: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_deadline()
        if isinstance(getattr(obj, "__self__", None), str) and hasattr(obj, "__name__"):
            args = method_check(obj, args, kwargs)
        return capped(super().call(context, obj, *args, **kwargs))

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            check_power(left, right)
        elif operator == "*":
            check_product(left, right)
        elif operator == "%" and isinstance(left, str):
            check_printf(left)
        return capped(super().call_binop(context, operator, left, right))
