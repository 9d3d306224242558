"""One contact's passes through a journey, each with the steps it took (the API's view)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa

from mailapp.audience.suppression import normalize_address
from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import Contact, Enrollment, EnrollmentStep, JourneyVersion
from mailapp.upserts import in_values


@dataclass(frozen=True)
class Pass:
    """An enrollment, the number of the version it runs, and its steps in order."""

    enrollment: Enrollment
    version: int | None
    steps: list[EnrollmentStep]


def find_contact(project_id: int, given: str | int) -> int:
    """A contact's id from its id or its address (NotFound outside the project)."""
    query = sa.select(Contact.id).where(Contact.project_id == project_id)
    if isinstance(given, int) or str(given).isdigit():
        query = query.where(Contact.id == int(given))
    else:
        query = query.where(Contact.email == normalize_address(str(given)))
    found = db.session.scalar(query)
    if found is None:
        raise NotFound("no such contact in this project")
    return found


def contact_passes(project_id: int, journey_id: int, contact_id: int) -> list[Pass]:
    """Every round of a contact in a journey, newest first, with its steps oldest first."""
    rows = db.session.execute(
        sa.select(Enrollment, JourneyVersion.number)
        .outerjoin(JourneyVersion, JourneyVersion.id == Enrollment.version_id)
        .where(
            Enrollment.project_id == project_id,
            Enrollment.journey_id == journey_id,
            Enrollment.contact_id == contact_id,
        )
        .order_by(Enrollment.round.desc())
    ).all()
    steps: dict[int, list[EnrollmentStep]] = defaultdict(list)
    if rows:
        for step in db.session.scalars(
            sa.select(EnrollmentStep)
            .where(
                EnrollmentStep.project_id == project_id,
                EnrollmentStep.enrollment_id.in_([e.id for e, _ in rows]),
            )
            .order_by(EnrollmentStep.enrollment_id, EnrollmentStep.seq)
        ):
            steps[step.enrollment_id].append(step)
    return [Pass(e, number, steps[e.id]) for e, number in rows]


def published_versions(
    project_id: int, version_ids: list[int | None]
) -> dict[int, tuple[int, dict]]:
    """version id -> (its number, its frozen trigger), for the ids given."""
    ids = [v for v in version_ids if v is not None]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(JourneyVersion.id, JourneyVersion.number, JourneyVersion.trigger).where(
            JourneyVersion.project_id == project_id, JourneyVersion.id.in_(ids)
        )
    )
    return {version_id: (number, trigger or {}) for version_id, number, trigger in rows}


def contacts_by_email(project_id: int, emails: list[str]) -> list[int]:
    """The ids of the project's contacts with these addresses (unknown ones are left out)."""
    wanted = {normalize_address(e) for e in emails}
    return list(
        db.session.scalars(
            sa.select(Contact.id).where(
                Contact.project_id == project_id, in_values(Contact.email, sorted(wanted))
            )
        )
    )
