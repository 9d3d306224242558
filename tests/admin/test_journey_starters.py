"""The four starters are journeys the engine accepts once the project's template, sender and
list are filled in; only what a starter cannot know (re-engagement's campaign) is left to pick."""

from __future__ import annotations

import pytest

from mailapp.journeys.graph import check_graph, check_settings, check_trigger
from mailapp.journeys.starters import STARTERS, starter
from tests.factories import make_list, make_project, make_sender, make_template


@pytest.mark.parametrize("key", sorted(STARTERS))
def test_each_starter_passes_the_graph_check_once_filled_in(app, key):
    project = make_project()
    chosen = starter(
        key,
        template_id=make_template(project).id,
        sender_id=make_sender(project).id,
        list_id=make_list(project).id,
    )
    assert check_graph(chosen.graph, project) == []
    assert check_settings(chosen.settings) == []
    problems = [p.message for p in check_trigger(chosen.trigger, project)]
    assert problems == (["the trigger needs a campaign"] if key == "reengagement" else [])


def test_a_starter_is_a_fresh_copy_each_time(app):
    first = starter("welcome", template_id=1)
    first.graph["steps"]["welcome"]["template_id"] = 99
    assert starter("welcome", template_id=1).graph["steps"]["welcome"]["template_id"] == 1
    assert STARTERS["welcome"].graph["steps"]["welcome"]["template_id"] is None
    assert [s.name for s in STARTERS.values()] == [
        "Welcome series",
        "Re-engagement",
        "Birthday",
        "Abandoned cart",
    ]
