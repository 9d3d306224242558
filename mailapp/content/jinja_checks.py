"""Checking an author's Jinja before it is saved: syntax, variables, sandbox rules.

The sandbox refuses unsafe access when rendering; refusing it at save, with the line, is
kinder to the author and means a published version cannot fail that way at send time.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateError, TemplateSyntaxError, nodes

from mailapp.content.rendering import AUTHOR_VARIABLES, HTML_ENV, TEXT_ENV

# Names Jinja itself provides inside a template.
BUILTIN_NAMES = frozenset({"loop", "caller", "varargs", "kwargs", "true", "false", "none"})


@dataclass(frozen=True)
class Problem:
    part: str  # "html", "subject", "de.html" ...
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.part} line {self.line}" if self.line else self.part
        return f"{where}: {self.reason}"


def check_source(
    source: str,
    *,
    html: bool,
    part: str,
    variables: dict[str, frozenset[str] | None] = AUTHOR_VARIABLES,
) -> list[Problem]:
    """Problems of one part: does it compile, and does it name only `variables`?"""
    env = HTML_ENV if html else TEXT_ENV
    try:
        tree = env.parse(source)
        env.from_string(source)  # unknown filters and tests are found when compiling
    except TemplateSyntaxError as exc:
        return [Problem(part, exc.lineno, exc.message or "syntax error")]
    except TemplateError as exc:
        return [Problem(part, None, str(exc))]
    declared = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    problems: list[Problem] = []
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        problem = _check_node(node, declared, variables)
        if problem:
            problems.append(Problem(part, node.lineno, problem))
    return _first_per_line(problems)


def _check_node(
    node: nodes.Node, declared: set[str], variables: dict[str, frozenset[str] | None]
) -> str | None:
    if isinstance(node, nodes.Name):
        if node.ctx != "load" or node.name in declared or node.name in BUILTIN_NAMES:
            return None
        if node.name not in variables:
            known = ", ".join(sorted(variables))
            return f"unknown variable {node.name!r} (available: {known})"
        return None
    attribute = _attribute_name(node)
    if attribute is None:
        return None
    if attribute.startswith("_"):
        return f"attribute {attribute!r} is not allowed"
    owner = node.node  # type: ignore[attr-defined]
    if isinstance(owner, nodes.Name) and owner.name not in declared:
        fields = variables.get(owner.name)
        if fields is not None and attribute not in fields:
            return (
                f"unknown variable '{owner.name}.{attribute}' "
                f"(available: {', '.join(f'{owner.name}.{f}' for f in sorted(fields))})"
            )
    return None


def _attribute_name(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return node.arg.value if isinstance(node.arg.value, str) else None
    return None


def _first_per_line(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[int | None, str]] = set()
    out = []
    for problem in problems:
        if (problem.line, problem.reason) not in seen:
            seen.add((problem.line, problem.reason))
            out.append(problem)
    return out
