from mailapp.extensions import db
from tests.admin.conftest import login
from tests.factories import make_contact, make_project, make_user


def test_every_admin_page_renders_for_a_superuser(app, client):
    project = make_project()
    user = make_user(project, "owner")
    user.is_superuser = True
    db.session.commit()
    make_contact(project)
    login(client, user)
    for rule in app.url_map.iter_rules():
        if rule.arguments or not rule.rule.startswith("/admin") or "GET" not in rule.methods:
            continue
        if "ajax" in rule.rule or "export" in rule.rule or "switch" in rule.rule:
            continue
        r = client.get(rule.rule)
        assert r.status_code in (200, 302, 404), (rule.rule, r.status_code, r.data[:3000])
