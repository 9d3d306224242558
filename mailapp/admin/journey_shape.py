"""What the builder refuses to save: a graph it could not draw (a step of an unknown type, a
path to a step that does not exist, a loop, a step no path reaches). Whether each step is
complete (template, sender, percentages ...) is the publish check's business, so a half-built
draft can still be saved."""

from __future__ import annotations

from typing import Any

from mailapp.journeys.graph import MAX_STEPS, STEP_TYPES, Problem, targets


def shape_problems(graph: Any) -> list[Problem]:
    """The problems that stop the builder from storing (and later drawing) this graph."""
    if not isinstance(graph, dict) or not isinstance(graph.get("steps"), dict):
        return [Problem(None, "the journey's steps are missing")]
    steps: dict = graph["steps"]
    if not steps:
        return []
    if len(steps) > MAX_STEPS:
        return [Problem(None, f"a journey has at most {MAX_STEPS} steps")]
    start = graph.get("start")
    problems = [] if start in steps else [Problem(None, "the first step is not one of the steps")]
    for key, step in steps.items():
        if not isinstance(step, dict) or step.get("type") not in STEP_TYPES:
            problems.append(Problem(key, "is not a step the builder knows"))
            continue
        problems += [
            Problem(key, f"leads to “{target}”, which is not a step")
            for target in targets(step)
            if target is not None and target not in steps
        ]
    return problems or _loops_and_strays(start, steps)


def _loops_and_strays(start: str, steps: dict) -> list[Problem]:
    problems: list[Problem] = []
    state: dict[str, str] = {}

    def visit(key: str) -> None:
        state[key] = "open"
        for target in targets(steps[key]):
            if target is not None and state.get(target) == "open":
                problems.append(Problem(key, f"leads back to “{target}”: a loop never ends"))
            elif target is not None and target not in state:
                visit(target)
        state[key] = "done"

    visit(start)
    problems += [
        Problem(k, "no path from the start reaches this step") for k in steps if k not in state
    ]
    return problems
