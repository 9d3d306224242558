"""The back office's display filters: times in the viewer's zone, counts with separators."""

from __future__ import annotations

from datetime import UTC, datetime

from mailapp.admin.display import format_count, format_when


def test_counts_get_thousands_separators_and_none_a_dash():
    assert format_count(12430) == "12,430"
    assert format_count(0) == "0"
    assert format_count(None) == "—"


def test_a_moment_is_shown_to_the_minute_in_the_zone_with_its_name(app):
    moment = datetime(2026, 7, 1, 7, 5, 59, 123456, tzinfo=UTC)
    with app.test_request_context():
        assert format_when(moment) == "1 Jul 2026, 07:05 UTC"
        assert format_when(moment.replace(tzinfo=None)) == "1 Jul 2026, 07:05 UTC"
        assert format_when(None) == "—"
        assert "{{" not in app.jinja_env.from_string("{{ m|when }}").render(m=moment)
        assert app.jinja_env.from_string("{{ n|count }}").render(n=1000000) == "1,000,000"
