"""The send path's log lines, as JSON: each names its campaign, project, delivery and
Dramatiq message; none shows a recipient's address or a token."""

from __future__ import annotations

import io
import json
import logging

import sqlalchemy as sa

from mailapp.delivery import pipeline
from mailapp.extensions import db
from mailapp.models import Contact, Delivery, DeliveryStatus
from mailapp.runtime.logs import make_handler
from tests.factories import make_campaign, make_list, make_project, make_sender, make_template
from tests.support.pipeline import launch, pipeline_sink, run_queue
from workers.actors.sending import send_batch


def test_every_send_line_names_its_ids_and_no_address_or_token(app):
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root, ours, actors = (
        logging.getLogger(),
        logging.getLogger("mailapp"),
        logging.getLogger("workers"),
    )
    levels = ours.level, actors.level
    root.addHandler(handler)
    ours.setLevel(logging.DEBUG)  # the sent lines too
    actors.setLevel(logging.INFO)
    try:
        with pipeline_sink(app) as sink:
            project = make_project()
            lst = make_list(project, 6)
            refused = db.session.scalars(
                sa.select(Contact.email).where(Contact.project_id == project.id)
            ).first()
            sink.rcpt_rules[refused] = f"550 5.1.1 <{refused}>: user unknown"
            campaign = make_campaign(project, make_sender(project), make_template(project), [lst])
            launch(project, campaign)
            for _ in range(5):  # what the dispatcher hands to the workers
                plan = pipeline.plan_dispatch()
                for cid in plan.prepare:
                    pipeline.prepare_deliveries(cid)
                for cid, ids in plan.batches:
                    send_batch.send(cid, ids)
            run_queue(send_batch.queue_name)
    finally:
        root.removeHandler(handler)
        ours.setLevel(levels[0])
        actors.setLevel(levels[1])

    rows = db.session.scalars(sa.select(Delivery).where(Delivery.campaign_id == campaign.id)).all()
    assert sorted(r.status for r in rows) == [DeliveryStatus.FAILED] + [DeliveryStatus.SENT] * 5
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    sending = [x for x in lines if x["logger"].startswith(("mailapp.delivery", "workers.actors"))]
    assert sending
    for line in sending:
        assert line["campaign_id"] == campaign.id, line
        assert line["actor"] == "send_batch", line
        assert line["message_id"], line
        if line["logger"].startswith("mailapp.delivery"):
            assert line["project_id"] == project.id, line
    per_delivery = [x for x in sending if x["logger"] == "mailapp.delivery.outcomes"]
    assert sorted(x["delivery_id"] for x in per_delivery) == sorted(r.id for r in rows)
    (failed,) = [x for x in per_delivery if x["level"] == "INFO"]
    assert failed["message"].startswith("delivery failed: 550 5.1.1 <c***@example.org>")
    batch_lines = [x for x in sending if x["logger"] == "workers.actors.sending"]
    assert batch_lines
    assert all("batch of" in x["message"] for x in batch_lines)

    # Nobody's address, nor a return path's or a link's token, is in any line.
    secrets = {m.mail_from for m in sink.messages}  # VERP: the token is the local part
    secrets |= {m.mail_from.split("@")[0].split("+")[-1] for m in sink.messages}
    for address in db.session.scalars(sa.select(Contact.email)):
        secrets |= {address, address.split("@")[0]}
    assert secrets
    assert not [s for s in secrets if s in text]
