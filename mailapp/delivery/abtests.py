"""A/B tests: once the test share has had its time, the variant with the most unique
clicks (or opens) wins and the rest of the audience is given it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mailapp.access.audit import record_audit
from mailapp.delivery.campaigns import PIPELINE
from mailapp.extensions import db
from mailapp.models import Campaign, CampaignEngagement, CampaignVariant, Delivery


def decide_ab_winner(campaign: Campaign, *, now: datetime) -> str | None:
    """Once the test time is over: the variant with most unique clicks (or opens) wins
    and the rest of the audience gets it. Ties go to the earlier variant."""
    decide_at = campaign.snapshot.get("ab_decide_at")
    if campaign.snapshot.get("ab_winner") or not decide_at:
        return campaign.snapshot.get("ab_winner")
    if datetime.fromisoformat(decide_at) > now:
        return None
    metric = (
        CampaignEngagement.clicks
        if campaign.ab_test.get("metric") == "clicks"
        else (CampaignEngagement.opens)
    )
    scores = dict(
        db.session.execute(
            sa.select(Delivery.variant, sa.func.count())
            .join(
                CampaignEngagement,
                sa.and_(
                    CampaignEngagement.campaign_id == Delivery.campaign_id,
                    CampaignEngagement.contact_id == Delivery.contact_id,
                ),
            )
            .where(Delivery.campaign_id == campaign.id, metric > 0)
            .group_by(Delivery.variant)
        ).all()
    )
    keys = [v["key"] for v in campaign.snapshot["variants"]]
    winner = max(keys, key=lambda k: (scores.get(k, 0), -keys.index(k)))
    db.session.execute(
        sa.update(Delivery.__table__)
        .where(
            Delivery.__table__.c.campaign_id == campaign.id, Delivery.__table__.c.variant.is_(None)
        )
        .values(variant=winner)
    )
    db.session.execute(
        sa.update(CampaignVariant)
        .where(CampaignVariant.campaign_id == campaign.id)
        .values(is_winner=CampaignVariant.key == winner)
    )
    campaign.snapshot = dict(campaign.snapshot, ab_winner=winner, ab_scores=scores)
    record_audit(
        PIPELINE,
        "campaign.ab_winner",
        project_id=campaign.project_id,
        obj=campaign,
        context={"winner": winner, "scores": scores},
    )
    return winner
