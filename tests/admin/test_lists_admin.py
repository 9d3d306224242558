"""Lists in the back office: subscriber counts per status, and a public list's sign-up form."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import ListMembership, MembershipStatus
from tests.admin.conftest import login
from tests.factories import add_contacts, make_list, make_project, make_user


def test_list_view_shows_counts_per_status_without_counting_members(app, client):
    project = make_project()
    big = make_list(project, 1203)
    small = make_list(project, 3)
    db.session.execute(
        sa.update(ListMembership)
        .where(ListMembership.list_id == small.id)
        .values(status=MembershipStatus.UNCONFIRMED)
    )
    other = make_list(make_project(), 7)  # another project's list is neither shown nor counted
    db.session.commit()
    login(client, make_user(project, "analyst"))
    statements = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    page = client.get("/admin/list/").data.decode()
    # The counts the database keeps are read in one query; no membership is grouped.
    assert sum("FROM list_member_counts" in s for s in statements) == 1
    assert not any("FROM list_memberships" in s for s in statements)
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    big_row = next(r for r in rows if big.name in r)
    small_row = next(r for r in rows if small.name in r)
    assert "1,203" in big_row
    assert re.search(r">\s*3\s*<", small_row)
    assert re.search(r">\s*0\s*<", small_row)
    assert other.name not in page
    assert "Subscribed and receiving mail" in page  # the column's explanation


def test_public_list_shows_its_url_and_an_embed_form_that_subscribes(app, client):
    project = make_project()
    lst = make_list(project)
    lst.is_public = True
    lst.consent_text = "I want the <weekly> news."
    db.session.commit()
    login(client, make_user(project, "marketer"))
    listing = client.get("/admin/list/").data.decode()
    assert f'href="/admin/list/{lst.id}/signup/">Form and embed code</a>' in listing
    page = client.get(f"/admin/list/{lst.id}/signup/").data.decode()
    url = f"http://mail.test/subscribe/{lst.token}"
    assert f'value="{url}"' in page
    snippet = unescape(
        re.search(r'<textarea[^>]*id="embed-code"[^>]*>(.*?)</textarea>', page, re.S)[1]
    )
    assert f'<form action="{url}" method="post"' in snippet
    assert 'name="website"' in snippet
    assert 'name="email"' in snippet
    assert "I want the &lt;weekly&gt; news." in snippet  # escaped for the pasted HTML
    assert 'data-copy="#embed-code"' in page

    # The form, posted from another site (no CSRF token), subscribes through the endpoint.
    fields = dict(re.findall(r'name="(\w+)"(?: [^>]*value="([^"]*)")?', snippet))
    posted = {"email": "reader@example.org", "first_name": "Ann", "consent": "y"}
    assert set(posted) | {"website"} == set(fields)
    response = client.post(f"/subscribe/{lst.token}", data={**posted, "website": ""})
    assert response.status_code == 200
    members = db.session.scalars(sa.select(ListMembership).where(ListMembership.list_id == lst.id))
    assert len(members.all()) == 1


def test_the_honeypot_of_the_embed_form_still_catches_robots(app, client):
    project = make_project()
    lst = make_list(project)
    lst.is_public = True
    db.session.commit()
    response = client.post(
        f"/subscribe/{lst.token}", data={"email": "bot@example.org", "website": "spam"}
    )
    assert response.status_code == 200
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(ListMembership.list_id == lst.id)) == 0
    )


def test_a_private_list_says_how_to_publish_its_form(app, client):
    project = make_project()
    lst = make_list(project)
    add_contacts(project, lst, ["a@example.org"])
    login(client, make_user(project, "analyst"))
    listing = client.get("/admin/list/").data.decode()
    assert "not public" in listing
    page = client.get(f"/admin/list/{lst.id}/signup/").data.decode()
    assert 'id="not-public"' in page
    assert "embed-code" not in page
    assert client.get("/admin/list/999999/signup/").status_code == 404
