"""No back-office page shows a code name where a person reads a value: no enum member names
(SINGLE, OWNER, MARKETING) and no bare True/False/None in a cell. Every GET page that takes no
argument is read as an owner of the demo project, so a new page is checked when it is added."""

from __future__ import annotations

import re

from mailapp.extensions import db
from mailapp.seed import seed_demo
from tests.factories import TEST_ACTOR, make_contact, make_delivery, make_sent_campaign, make_user

# Upper-case words that are names, not codes.
ACRONYMS = {"HTML", "JSON", "DKIM", "CSV", "UTC", "SMTP", "TOTP", "API", "URL", "SPF", "DMARC"}
HIDDEN = re.compile(r"<script.*?</script>|<style.*?</style>|<(option|input|select)[^>]*>", re.S)


def test_pages_show_words_not_code_names(app, as_user):
    project = seed_demo(owner=None, actor=TEST_ACTOR)
    make_delivery(make_sent_campaign(project), make_contact(project))
    db.session.commit()
    client = as_user(make_user(project, "owner"))
    pages = sorted(
        str(rule)
        for rule in app.url_map.iter_rules()
        if str(rule).startswith("/admin") and "<" not in str(rule) and "GET" in rule.methods
    )
    read, codes = 0, {}
    for path in pages:
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.content_type:
            continue
        read += 1
        text = HIDDEN.sub("", response.get_data(as_text=True))
        found = set(re.findall(r">\s*([A-Z][A-Z_]{3,})\s*<", text)) - ACRONYMS
        found |= set(re.findall(r">\s*(True|False|None)\s*<", text))
        if found:
            codes[path] = sorted(found)
    assert read > 30  # the pages were really read
    assert codes == {}
