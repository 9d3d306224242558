"""Dashboard, project switcher and Roles page (the Outbox: test_outbox.py)."""

from __future__ import annotations

from mailapp.access.audit import Actor
from mailapp.access.permissions import ROLE_PERMISSIONS
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignStatus, ContactStatus, Membership, Role
from tests.admin.conftest import csrf_token, login
from tests.factories import make_contact, make_project, make_user


def test_dashboard_counts_contacts_by_status_and_shows_recent_work(app, client):
    project = make_project("acme")
    user = make_user(project, "owner")
    for _n in range(3):
        make_contact(project)
    make_contact(project, status=ContactStatus.BOUNCED)
    make_contact(make_project())  # another project's contact is not counted
    db.session.add(
        Campaign(project_id=project.id, name="Spring sale", status=CampaignStatus.PAUSED)
    )
    db.session.commit()
    login(client, user)
    page = client.get("/admin/").data.decode()
    counts = page.split('id="contacts-by-status"', 1)[1].split("</div>\n  </div>", 1)[0]
    assert '<span class="badge badge-secondary">4</span>' in counts
    assert '<td>bounced</td><td class="text-right">1</td>' in counts
    assert "Spring sale" in page
    assert "paused" in page
    assert 'id="recent-audit"' in page
    assert "project.create" in page


def test_dashboard_hides_the_audit_log_without_audit_read(app, client):
    project = make_project("acme")
    login(client, make_user(project, "marketer"))
    page = client.get("/admin/").data.decode()
    assert 'id="contacts-by-status"' in page
    assert 'id="recent-audit"' not in page


def test_switching_project_changes_what_every_page_shows(app, client):
    alpha, bravo = make_project("alpha"), make_project("bravo")
    user = make_user(alpha, "owner")
    db.session.add(Membership(user_id=user.id, project_id=bravo.id, role=Role.SUPPORT))
    db.session.commit()
    make_contact(alpha, "in-alpha@example.org")
    make_contact(bravo, "in-bravo@example.org")
    login(client, user)
    token = csrf_token(client)
    assert b"in-alpha@" in client.get("/admin/contact/").data
    assert (
        client.post(
            "/admin/switch-project", data={"csrf_token": token, "project_id": bravo.id}
        ).status_code
        == 302
    )
    listing = client.get("/admin/contact/").data
    assert b"in-bravo@" in listing
    assert b"in-alpha@" not in listing
    # As support in bravo the user no longer sees the Senders page.
    assert client.get("/admin/sender/").status_code == 403
    stranger = make_project("charlie")
    response = client.post(
        "/admin/switch-project", data={"csrf_token": token, "project_id": stranger.id}
    )
    assert response.status_code == 404


def test_roles_page_renders_the_permission_table(app, client):
    project = make_project("acme")
    login(client, make_user(project, "admin"))
    page = client.get("/admin/roles/").data.decode()
    for role, permissions in ROLE_PERMISSIONS.items():
        for permission in permissions:
            cell = f'data-role="{role.value}" data-permission="{permission.value}">&#10003;'
            assert cell in page


def test_dashboard_counts_are_cached_for_a_minute(app, client):
    from mailapp.extensions import get_redis
    from mailapp.insights.dashboard import COUNTS_TTL_SECONDS, contact_counts_key

    project = make_project("acme")
    login(client, make_user(project, "owner"))
    make_contact(project)
    assert '<span class="badge badge-secondary">1</span>' in client.get("/admin/").data.decode()
    make_contact(project)
    assert '<span class="badge badge-secondary">1</span>' in client.get("/admin/").data.decode()
    key = contact_counts_key(project.id)
    assert 0 < get_redis().ttl(key) <= COUNTS_TTL_SECONDS
    get_redis().delete(key)
    assert '<span class="badge badge-secondary">2</span>' in client.get("/admin/").data.decode()


def test_installation_wide_audit_entries_are_for_superusers_only(app, client):
    from mailapp.access.audit import record_audit

    project = make_project("acme")
    owner = make_user(project, "owner")
    record_audit(Actor.system("cli"), "user.locked", project_id=None, context={"n": 1})
    db.session.commit()
    login(client, owner)
    assert b"user.locked" not in client.get("/admin/auditlog/").data
    owner.is_superuser = True
    db.session.commit()
    assert b"user.locked" in client.get("/admin/auditlog/").data
