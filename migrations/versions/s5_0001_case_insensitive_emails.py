"""contacts: addresses are case-insensitive; merge contacts whose addresses differ only in case

`USER@x.example` and `user@x.example` were two contacts, and both got every campaign. From
now on `email` is stored lower-cased (email_raw keeps the typing). Per project, contacts
whose lower-cased addresses collide are merged into one survivor: the OLDEST (created_at,
then id). Every row of history is moved onto it anyway, so "most history" would pick
nothing better, while the oldest id is the one the API clients, exports and webhooks
consumers have known longest, and its consent ledger starts first.

What moves to the survivor: list memberships (unsubscribed beats confirmed beats
unconfirmed: an opt-out is never undone by a merge), consent records, events, messages,
tags, segment membership, campaign engagement (counts added), deliveries (one per campaign:
where both got one, the row that was sent stays, the other's events and bounce reports move
onto it and its facts go into the audit entry), the strongest status (erased, complained,
bounced, unsubscribed beat active) and the profile (the survivor's values win, blanks are
filled from the others). Suppression is keyed by a hash of the lower-cased address already,
so it matched every case variant before and still does. The merged-away contacts are then
deleted (nothing points at them any more) and each merge leaves a "contact.merge" audit
entry naming the ids.

Lower-casing is Python's str.lower, as the application does (SQLite's lower() only knows
ASCII), so the addresses are read in Python; only the mixed-case ones are kept in memory.

Revision ID: s5_0001
Revises: s3_0001
Create Date: 2026-12-02 20:00:00

"""
from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = 's5_0001'
down_revision = 's3_0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), 'postgresql')
STATUS_RANK = {'active': 0, 'unsubscribed': 1, 'bounced': 2, 'complained': 3, 'erased': 4}
MEMBERSHIP_RANK = {'unconfirmed': 0, 'confirmed': 1, 'unsubscribed': 2}
DELIVERY_RANK = {'sent': 5, 'unknown': 4, 'sending': 3, 'deferred': 2, 'failed': 1}
PROFILE = ('first_name', 'last_name', 'timezone', 'locale')
LATEST = ('last_sent_at', 'last_opened_at', 'last_clicked_at', 'erased_at')


def _table(name, *columns, **types):
    return sa.table(name, *[sa.column(c) for c in columns],
                    *[sa.column(c, t) for c, t in types.items()])


contacts = _table(
    'contacts', 'id', 'project_id', 'email', 'email_raw', 'status', *PROFILE,
    'is_role_address', 'is_disposable', 'quarantined', 'soft_bounces',
    attributes=JSON, created_at=sa.DateTime, updated_at=sa.DateTime,
    **{name: sa.DateTime for name in LATEST},
)
memberships = _table('list_memberships', 'list_id', 'contact_id', 'status',
                     confirmed_at=sa.DateTime, unsubscribed_at=sa.DateTime,
                     created_at=sa.DateTime)
engagement = _table('campaign_engagement', 'campaign_id', 'contact_id', 'opens', 'clicks',
                    'machine_opens', 'machine_clicks', first_opened_at=sa.DateTime,
                    first_clicked_at=sa.DateTime)
deliveries = _table('deliveries', 'id', 'campaign_id', 'contact_id', 'status', 'attempts',
                    'last_reply', 'reason', 'message_id', 'provider_message_id',
                    sent_at=sa.DateTime)
tags = _table('contact_tags', 'contact_id', 'tag')
segment_members = _table('segment_members', 'segment_id', 'contact_id')
events = _table('events', 'contact_id', 'delivery_id')
inbound = _table('inbound_messages', 'delivery_id')
audit = _table('audit_log', 'project_id', 'actor', 'action', 'object_type', 'object_id',
               created_at=sa.DateTime, context=JSON)
REPOINTED = ('consent_records', 'events', 'messages')


def upgrade():
    bind = op.get_bind()
    now = datetime.now(UTC)
    if bind.dialect.name == 'sqlite':
        now = now.replace(tzinfo=None)  # SQLite keeps naive UTC
    mixed = {}  # id -> (project_id, lower-cased email), for addresses not stored lower-case
    rows = bind.execute(sa.select(contacts.c.id, contacts.c.project_id, contacts.c.email)
                        .execution_options(yield_per=10000))
    for contact_id, project_id, email in rows:
        if email != email.lower():
            mixed[contact_id] = (project_id, email.lower())
    groups = defaultdict(list)
    for contact_id, key in mixed.items():
        groups[key].append(contact_id)
    keys = list(groups)
    for start in range(0, len(keys), 500):  # the lower-case twins already stored
        chunk = keys[start:start + 500]
        for contact_id, project_id, email in bind.execute(
            sa.select(contacts.c.id, contacts.c.project_id, contacts.c.email).where(
                contacts.c.email.in_({email for _, email in chunk}))
        ):
            if (project_id, email) in groups:
                groups[(project_id, email)].append(contact_id)
    renamed = []
    for (project_id, email), ids in groups.items():
        if len(ids) > 1:
            _merge(bind, project_id, email, ids, now)
        else:
            renamed.append({'b_id': ids[0], 'b_email': email})
    if renamed:
        bind.execute(
            sa.update(contacts).where(contacts.c.id == sa.bindparam('b_id'))
            .values(email=sa.bindparam('b_email')),
            renamed,
        )


def downgrade():
    # Merged contacts cannot be told apart again: their history is now one. Emails stay
    # lower-cased too (the as-typed form is still in email_raw).
    pass


def _merge(bind, project_id, email, ids, now):
    """Fold every contact of `ids` into the oldest one, then delete the others."""
    people = bind.execute(
        sa.select(contacts).where(contacts.c.id.in_(ids))
        .order_by(contacts.c.created_at, contacts.c.id)
    ).mappings().all()
    survivor, losers = people[0]['id'], [p['id'] for p in people[1:]]
    moved = {
        'memberships': _merge_keyed(bind, memberships, 'list_id', survivor, ids, _membership),
        'engagement': _merge_keyed(bind, engagement, 'campaign_id', survivor, ids, _engagement),
        'tags': _merge_keyed(bind, tags, 'tag', survivor, ids, None),
        'segment_members': _merge_keyed(bind, segment_members, 'segment_id', survivor, ids, None),
    }
    dropped = _merge_deliveries(bind, survivor, ids)
    for name in REPOINTED:
        table = _table(name, 'contact_id')
        result = bind.execute(
            sa.update(table).where(table.c.contact_id.in_(losers)).values(contact_id=survivor))
        moved[name] = result.rowcount
    bind.execute(sa.delete(contacts).where(contacts.c.id.in_(losers)))
    bind.execute(
        sa.update(contacts).where(contacts.c.id == survivor)
        .values(email=email, updated_at=now, **_merged_contact(people))
    )
    bind.execute(sa.insert(audit).values(
        project_id=project_id, created_at=now, actor='migration s5_0001',
        action='contact.merge', object_type='Contact', object_id=str(survivor),
        context={'survivor_id': survivor, 'merged_ids': losers, 'email': email,
                 'emails_as_typed': [p['email_raw'] for p in people], 'moved': moved,
                 'dropped_deliveries': dropped},
    ))


def _merged_contact(people):
    """The survivor's fields: the strongest status, its own profile with blanks filled."""
    first = people[0]
    merged = {
        'status': max((p['status'] for p in people), key=lambda s: STATUS_RANK.get(s, 0)),
        'quarantined': any(p['quarantined'] for p in people),
        'is_role_address': any(p['is_role_address'] for p in people),
        'is_disposable': any(p['is_disposable'] for p in people),
        'soft_bounces': max(p['soft_bounces'] or 0 for p in people),
        'email_raw': first['email_raw'],
    }
    for name in PROFILE:
        merged[name] = next((p[name] for p in people if p[name]), first[name])
    for name in LATEST:
        merged[name] = max((p[name] for p in people if p[name] is not None), default=None)
    attributes = dict(first['attributes'] or {})
    for person in people[1:]:
        for key, value in (person['attributes'] or {}).items():
            if attributes.get(key) in (None, ''):
                attributes[key] = value
    merged['attributes'] = attributes
    return merged


def _merge_keyed(bind, table, key, survivor, ids, combine):
    """Rows unique per (key, contact): one per key stays on the survivor; returns rows moved.

    The survivor's own row is kept where it has one (else the oldest contact's), so columns
    this migration does not know stay; `combine` sets the merged values on it.
    """
    rows = bind.execute(sa.select(table).where(table.c.contact_id.in_(ids))).mappings().all()
    order = {contact_id: i for i, contact_id in enumerate(_ordered(bind, ids))}
    by_key = defaultdict(list)
    for row in rows:
        by_key[row[key]].append(row)
    moved = 0
    for value, group in by_key.items():
        group.sort(key=lambda r: order[r['contact_id']])
        kept = group[0]
        where = (table.c[key] == value, table.c.contact_id == kept['contact_id'])
        for other in group[1:]:
            bind.execute(sa.delete(table).where(
                table.c[key] == value, table.c.contact_id == other['contact_id']))
        values = combine(group) if combine and len(group) > 1 else {}
        if kept['contact_id'] != survivor:
            values['contact_id'] = survivor
        if values:
            bind.execute(sa.update(table).where(*where).values(**values))
        moved += len(group) - (kept['contact_id'] == survivor)
    return moved


def _ordered(bind, ids):
    return bind.scalars(sa.select(contacts.c.id).where(contacts.c.id.in_(ids))
                        .order_by(contacts.c.created_at, contacts.c.id)).all()


def _earliest(values):
    return min((v for v in values if v is not None), default=None)


def _membership(group):
    """One list's memberships: an unsubscribe wins, then confirmed over unconfirmed."""
    status = max((r['status'] for r in group), key=lambda s: MEMBERSHIP_RANK.get(s, 2))
    return {
        'status': status,
        'confirmed_at': _earliest(r['confirmed_at'] for r in group),
        'unsubscribed_at': max((r['unsubscribed_at'] for r in group
                                if r['unsubscribed_at'] is not None), default=None),
        'created_at': _earliest(r['created_at'] for r in group),
    }


def _engagement(group):
    """One campaign's engagement: counts add up, the first times are the earliest."""
    merged = {name: sum(r[name] or 0 for r in group)
              for name in ('opens', 'clicks', 'machine_opens', 'machine_clicks')}
    for name in ('first_opened_at', 'first_clicked_at'):
        merged[name] = _earliest(r[name] for r in group)
    return merged


def _merge_deliveries(bind, survivor, ids):
    """One delivery per campaign stays (the one that went out); the facts of the others."""
    rows = bind.execute(
        sa.select(deliveries).where(deliveries.c.contact_id.in_(ids))
        .order_by(deliveries.c.id)).mappings().all()
    by_campaign = defaultdict(list)
    for row in rows:
        by_campaign[row['campaign_id']].append(row)
    dropped = []
    for group in by_campaign.values():
        kept = max(group, key=lambda r: (r['sent_at'] is not None,
                                         DELIVERY_RANK.get(r['status'], 0), -r['id']))
        for other in group:
            if other is kept:
                continue
            # Its opens, clicks and bounces now belong to the delivery that stays.
            for table in (events, inbound):
                bind.execute(sa.update(table).where(table.c.delivery_id == other['id'])
                             .values(delivery_id=kept['id']))
            bind.execute(sa.delete(deliveries).where(deliveries.c.id == other['id']))
            dropped.append({
                'id': other['id'], 'campaign_id': other['campaign_id'],
                'contact_id': other['contact_id'], 'status': other['status'],
                'sent_at': other['sent_at'].isoformat() if other['sent_at'] else None,
                'message_id': other['message_id'],
                'provider_message_id': other['provider_message_id'],
                'last_reply': other['last_reply'], 'kept_delivery_id': kept['id'],
            })
        if kept['contact_id'] != survivor:
            bind.execute(sa.update(deliveries).where(deliveries.c.id == kept['id'])
                         .values(contact_id=survivor))
    return dropped
