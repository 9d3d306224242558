"""The starter gallery: every layout is a valid first draft, fluid, with the marketing footer."""

from __future__ import annotations

import re

import pytest

from mailapp.content.starters import MARKETING_STARTERS
from mailapp.content.submission import prepare_content, starter_content
from mailapp.errors import ServiceError
from mailapp.models import TemplateKind


@pytest.mark.parametrize("key", sorted(MARKETING_STARTERS))
def test_each_starter_is_a_valid_fluid_draft_with_the_footer(key):
    prepared = prepare_content(starter_content(TemplateKind.MARKETING, key))
    html = prepared.html
    assert "{{ unsubscribe_url }}" in html
    assert "{{ project.postal_address }}" in html
    assert "<style" not in html  # inlined
    # No fixed width: the one table is fluid with a 600 px cap, so a phone never scrolls.
    assert not re.search(r'width="\d+"', html)
    assert re.search(r'<table class="sheet"[^>]* width="100%"', html)
    assert "max-width: 600px" in html
    assert "font-size: 16px" in html


def test_transactional_templates_start_from_their_own_layout():
    content = starter_content(TemplateKind.TRANSACTIONAL, "newsletter")
    assert "data.key" in content.html
    assert "unsubscribe_url" not in content.html


def test_an_unknown_starter_is_refused():
    with pytest.raises(ServiceError, match="starter: there is no starter layout 'poster'"):
        starter_content(TemplateKind.MARKETING, "poster")
