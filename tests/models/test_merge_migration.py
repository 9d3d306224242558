"""Migration s5_0001 merges contacts whose addresses differ only in case, losing nothing.

Each test builds a database at s3_0001 (the schema before), writes case-duplicate contacts
with their whole history through SQLAlchemy Core on the reflected tables (so columns other
migrations add later do not break it), upgrades to s5_0001 and counts what is left.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from mailapp.audience.suppression import email_hash
from tests.support.migrations import database_at

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHILD_TABLES = (
    "list_memberships", "consent_records", "deliveries", "events", "messages",
    "contact_tags", "campaign_engagement", "segment_members",
)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Iterator:
    """An app on an empty database of each kind, migrated to s3_0001 only."""
    with database_at(request, request.param, "s3_0001", tmp_path, redis_url) as engine:
        yield engine


class Rows:
    """Inserts on reflected tables; required columns nobody named get a neutral value."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn, self.meta = conn, sa.MetaData()
        self.meta.reflect(conn)
        self.sqlite = conn.dialect.name == "sqlite"

    def when(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=None) if self.sqlite else moment

    def add(self, table_name: str, /, **values: object) -> int | None:
        table = self.meta.tables[table_name]
        for column in table.columns:
            if column.name in values or column.nullable or column.server_default is not None:
                continue
            if (
                column.primary_key
                and isinstance(column.type, sa.Integer)
                and len(table.primary_key.columns) == 1
            ):
                continue
            values[column.name] = self._neutral(column.type)
        values = {k: self.when(v) if isinstance(v, datetime) else v for k, v in values.items()}
        result = self.conn.execute(sa.insert(table).values(**values))
        return result.inserted_primary_key[0] if "id" in table.c else None

    def _neutral(self, kind: sa.types.TypeEngine) -> object:
        if isinstance(kind, sa.Boolean):
            return False
        if isinstance(kind, sa.Integer | sa.Numeric):
            return 0
        if isinstance(kind, sa.DateTime):
            return T0
        if isinstance(kind, sa.JSON):
            return {}
        return "x"

    def count(self, table_name: str, /, **where: object) -> int:
        table = self.meta.tables[table_name]
        query = sa.select(sa.func.count()).select_from(table)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        return self.conn.scalar(query)

    def all(self, table_name: str, /, **where: object) -> list:
        table = self.meta.tables[table_name]
        query = sa.select(table)
        for key, value in where.items():
            query = query.where(table.c[key] == value)
        return self.conn.execute(query).mappings().all()


def contact(rows: Rows, project: int, email: str, age: int, **values: object) -> int:
    local, _, domain = email.rpartition("@")
    return rows.add(
        "contacts", project_id=project, email=f"{local}@{domain.lower()}", email_raw=email,
        status=values.pop("status", "active"), attributes=values.pop("attributes", {}),
        created_at=T0 + timedelta(days=age), updated_at=T0 + timedelta(days=age), **values,
    )  # fmt: skip


def build_history(engine: sa.Engine) -> dict[str, int]:
    """Two projects; in the first, three case variants of one address with full history."""
    with engine.begin() as conn:
        r = Rows(conn)
        account = r.add("accounts", name="acme", created_at=T0)
        p1 = r.add("projects", account_id=account, slug="one", name="One", timezone="UTC",
                   settings={}, created_at=T0)  # fmt: skip
        p2 = r.add("projects", account_id=account, slug="two", name="Two", timezone="UTC",
                   settings={}, created_at=T0)  # fmt: skip
        a = contact(r, p1, "user0001@x.example", 0, attributes={"plan": "pro", "city": ""})
        b = contact(r, p1, "USER0001@X.EXAMPLE", 1, status="unsubscribed", first_name="Ada",
                    attributes={"plan": "free", "city": "Berlin"})  # fmt: skip
        c = contact(r, p1, "User0001@x.example", 2, soft_bounces=2)
        solo = contact(r, p1, "Solo@X.example", 3)
        bob = contact(r, p1, "bob@x.example", 4)
        other = contact(r, p2, "USER0001@x.example", 0)
        lists = [
            r.add("lists", project_id=p1, name=f"L{i}", opt_in="single", is_public=False,
                  token=f"t{i}", created_at=T0)
            for i in (1, 2, 3)
        ]  # fmt: skip
        for list_id, contact_id, status in (
            (lists[0], a, "unconfirmed"), (lists[0], b, "confirmed"),
            (lists[1], b, "unsubscribed"), (lists[1], c, "confirmed"),
            (lists[2], c, "confirmed"), (lists[2], bob, "confirmed"),
        ):  # fmt: skip
            r.add("list_memberships", project_id=p1, list_id=list_id, contact_id=contact_id,
                  status=status, created_at=T0)  # fmt: skip
        for contact_id in (a, b, c):
            r.add("consent_records", project_id=p1, contact_id=contact_id, source="form",
                  created_at=T0)  # fmt: skip
        k1, k2 = (
            r.add("campaigns", project_id=p1, name=name, status="sent", audience={},
                  schedule_mode="now", track_opens=True, track_clicks=True, utm={},
                  guardrails={}, created_at=T0)
            for name in ("K1", "K2")
        )  # fmt: skip
        d_a1 = r.add("deliveries", project_id=p1, campaign_id=k1, contact_id=a,
                     status="suppressed", scheduled_at=T0)  # fmt: skip
        d_b1 = r.add("deliveries", project_id=p1, campaign_id=k1, contact_id=b, status="sent",
                     scheduled_at=T0, sent_at=T0, message_id="<b1@x>")  # fmt: skip
        d_c2 = r.add("deliveries", project_id=p1, campaign_id=k2, contact_id=c, status="sent",
                     scheduled_at=T0, sent_at=T0)  # fmt: skip
        for contact_id, delivery_id, kind in (
            (a, d_a1, "unknown"), (b, d_b1, "sent"), (b, d_b1, "open"),
            (c, d_c2, "sent"), (c, None, "unsubscribe"),
        ):  # fmt: skip
            r.add("events", project_id=p1, type=kind, occurred_at=T0, contact_id=contact_id,
                  delivery_id=delivery_id, campaign_id=k1, is_machine=False,
                  payload={})  # fmt: skip
        r.add("inbound_messages", source="pipe", raw=b"x", classification="bounce_hard",
              delivery_id=d_a1, project_id=p1, received_at=T0)  # fmt: skip
        r.add("messages", project_id=p1, recipient="User0001@x.example", contact_id=c,
              data={}, status="sent", scheduled_at=T0, created_at=T0)  # fmt: skip
        for campaign_id, contact_id, opens, clicks in ((k1, a, 1, 0), (k1, b, 2, 1)):
            r.add("campaign_engagement", project_id=p1, campaign_id=campaign_id,
                  contact_id=contact_id, opens=opens, clicks=clicks, machine_opens=0,
                  machine_clicks=0)  # fmt: skip
        for contact_id, tag in ((a, "vip"), (b, "vip"), (b, "beta")):
            r.add("contact_tags", project_id=p1, contact_id=contact_id, tag=tag)
        segment = r.add("segments", project_id=p1, name="S", rule={}, created_at=T0)
        r.add("segment_members", project_id=p1, segment_id=segment, contact_id=b)
        r.add("suppressions", project_id=p1, email="user0001@x.example", created_at=T0,
              email_hash=email_hash("USER0001@X.EXAMPLE"), reason="unsubscribe")  # fmt: skip
    names = ["p1", "p2", "a", "b", "c", "solo", "bob", "other", "k1", "k2", "d_a1", "d_b1", "d_c2"]
    values = (p1, p2, a, b, c, solo, bob, other, k1, k2, d_a1, d_b1, d_c2)
    return dict(zip(names, values, strict=True)) | {"l1": lists[0], "l2": lists[1], "l3": lists[2]}


def test_case_duplicates_merge_into_the_oldest_with_all_their_history(old_database):
    ids = build_history(old_database)
    with old_database.connect() as conn:
        before = {name: Rows(conn).count(name) for name in (*CHILD_TABLES, "suppressions")}
    upgrade(revision="s5_0001")
    with old_database.connect() as conn:
        r = Rows(conn)
        a = ids["a"]
        people = [(row["project_id"], row["email"]) for row in r.all("contacts")]
        assert sorted(people) == sorted(
            [(ids["p1"], "user0001@x.example"), (ids["p1"], "solo@x.example"),
             (ids["p1"], "bob@x.example"), (ids["p2"], "user0001@x.example")]
        )  # fmt: skip
        survivor = r.all("contacts", project_id=ids["p1"], email="user0001@x.example")[0]
        assert survivor["id"] == a  # the oldest
        assert survivor["email_raw"] == "user0001@x.example"
        assert survivor["status"] == "unsubscribed"  # an opt-out beats active
        assert survivor["first_name"] == "Ada"  # blank filled from a merged contact
        assert survivor["attributes"] == {"plan": "pro", "city": "Berlin"}  # survivor wins
        assert survivor["soft_bounces"] == 2
        assert r.all("contacts", email="solo@x.example")[0]["email_raw"] == "Solo@X.example"
        assert r.all("contacts", project_id=ids["p2"])[0]["id"] == ids["other"]

        memberships = {m["list_id"]: m["status"] for m in r.all("list_memberships", contact_id=a)}
        assert memberships == {ids["l1"]: "confirmed", ids["l2"]: "unsubscribed",
                               ids["l3"]: "confirmed"}  # fmt: skip
        assert r.count("list_memberships") == before["list_memberships"] - 2
        assert r.count("consent_records", contact_id=a) == 3
        assert r.count("consent_records") == before["consent_records"]
        assert r.count("events", contact_id=a) == 5
        assert r.count("events") == before["events"]
        assert r.count("messages", contact_id=a) == 1

        deliveries = {d["campaign_id"]: d for d in r.all("deliveries")}
        assert len(deliveries) == before["deliveries"] - 1  # one per campaign and contact
        assert deliveries[ids["k1"]]["id"] == ids["d_b1"]  # the one that went out stays
        assert deliveries[ids["k1"]]["contact_id"] == a
        assert deliveries[ids["k2"]]["contact_id"] == a
        # The dropped delivery's events and bounce report now name the one that stays.
        assert r.count("events", delivery_id=ids["d_b1"]) == 3
        assert r.all("inbound_messages")[0]["delivery_id"] == ids["d_b1"]

        engagement = r.all("campaign_engagement")
        assert [(e["contact_id"], e["opens"], e["clicks"]) for e in engagement] == [(a, 3, 1)]
        assert {t["tag"] for t in r.all("contact_tags", contact_id=a)} == {"vip", "beta"}
        assert r.count("contact_tags") == 2
        assert [m["contact_id"] for m in r.all("segment_members")] == [a]
        assert r.count("suppressions") == before["suppressions"]
        assert r.all("suppressions")[0]["email_hash"] == email_hash(survivor["email"])

        (entry,) = r.all("audit_log", action="contact.merge")
        assert (entry["project_id"], entry["object_id"]) == (ids["p1"], str(a))
        assert entry["context"]["merged_ids"] == [ids["b"], ids["c"]]
        (dropped,) = entry["context"]["dropped_deliveries"]
        assert (dropped["id"], dropped["kept_delivery_id"]) == (ids["d_a1"], ids["d_b1"])
        assert_no_orphans(r)


def assert_no_orphans(r: Rows) -> None:
    """Every row that names a contact names one that exists (SQLite does not enforce it)."""
    contacts = r.meta.tables["contacts"]
    for name in CHILD_TABLES:
        table = r.meta.tables[name]
        orphans = r.conn.scalar(
            sa.select(sa.func.count())
            .select_from(table)
            .where(
                table.c.contact_id.is_not(None),
                ~sa.exists().where(contacts.c.id == table.c.contact_id),
            )
        )
        assert orphans == 0, name


def test_unique_address_holds_after_the_merge(old_database):
    ids = build_history(old_database)
    upgrade(revision="s5_0001")
    with pytest.raises(sa.exc.IntegrityError), old_database.begin() as conn:
        contact(Rows(conn), ids["p1"], "user0001@x.example", 9)


def test_a_database_without_duplicates_only_gets_lower_case_addresses(old_database):
    with old_database.begin() as conn:
        r = Rows(conn)
        account = r.add("accounts", name="acme", created_at=T0)
        project = r.add("projects", account_id=account, slug="one", name="One",
                        timezone="UTC", settings={}, created_at=T0)  # fmt: skip
        contact(r, project, "Mixed.Case@Example.org", 0)
    upgrade(revision="s5_0001")
    with old_database.connect() as conn:
        r = Rows(conn)
        assert [(c["email"], c["email_raw"]) for c in r.all("contacts")] == [
            ("mixed.case@example.org", "Mixed.Case@Example.org")
        ]
        assert r.count("audit_log", action="contact.merge") == 0
