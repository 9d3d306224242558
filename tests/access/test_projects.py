import pytest

from mailapp.access.projects import DEFAULT_SETTINGS, create_project
from mailapp.errors import ServiceError
from tests.factories import TEST_ACTOR


def test_create_project_with_defaults(app):
    project = create_project("acme", name="Acme", timezone="Europe/Berlin", actor=TEST_ACTOR)
    assert (project.slug, project.name, project.timezone) == ("acme", "Acme", "Europe/Berlin")
    assert project.account.name == "Acme"
    assert project.settings == DEFAULT_SETTINGS


@pytest.mark.parametrize(
    ("slug", "timezone", "message"),
    [
        ("Acme!", "UTC", "use 1-64 lower-case letters"),
        ("-acme", "UTC", "use 1-64 lower-case letters"),
        ("acme", "Mars/Olympus", "not an IANA zone"),
    ],
)
def test_bad_slug_or_zone_refused(app, slug, timezone, message):
    with pytest.raises(ServiceError, match=message):
        create_project(slug, timezone=timezone, actor=TEST_ACTOR)


def test_slug_is_unique(app):
    create_project("acme", actor=TEST_ACTOR)
    with pytest.raises(ServiceError, match="already exists"):
        create_project("acme", actor=TEST_ACTOR)
