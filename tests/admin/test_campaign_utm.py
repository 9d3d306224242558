"""The campaign form's UTM fields: saved as the campaign's rule, checked like a template."""

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import Campaign
from tests.admin.conftest import csrf_token, login
from tests.factories import make_project, make_user

FORM = {"name": "Spring", "schedule_mode": "now", "track_clicks": "y"}


def owner(client):
    project = make_project("acme")
    login(client, make_user(project, "owner"))
    return project, csrf_token(client)


def test_the_form_saves_the_rule_and_keeps_parameters_set_elsewhere(app, client):
    _, token = owner(client)
    response = client.post(
        "/admin/campaign/new/",
        data={
            "csrf_token": token,
            **FORM,
            "utm_source": " newsletter ",
            "utm_campaign": "{{ campaign.slug }}",
            "utm_content": "",
        },
    )
    assert response.status_code == 302
    campaign = db.session.scalar(sa.select(Campaign))
    assert campaign.utm == {"utm_source": "newsletter", "utm_campaign": "{{ campaign.slug }}"}
    campaign.utm = {**campaign.utm, "ref": "api"}  # set through the API
    db.session.commit()
    page = client.get("/admin/campaign/edit/", query_string={"id": campaign.id})
    assert b'value="{{ campaign.slug }}"' in page.data
    client.post(
        "/admin/campaign/edit/",
        query_string={"id": campaign.id},
        data={"csrf_token": token, **FORM, "utm_source": "mail", "utm_medium": "email"},
    )
    db.session.expire_all()
    assert db.session.get(Campaign, campaign.id).utm == {
        "ref": "api",
        "utm_source": "mail",
        "utm_medium": "email",
    }


def test_a_bad_value_is_refused_with_its_line_and_reason(app, client):
    _, token = owner(client)
    response = client.post(
        "/admin/campaign/new/",
        data={"csrf_token": token, **FORM, "utm_term": "{{ contact.email }}"},
        follow_redirects=True,
    )
    assert b"utm utm_term line 1: unknown variable" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0
