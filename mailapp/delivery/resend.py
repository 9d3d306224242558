"""Resending a transactional message: always a new message with a new id, never the same one
handed over twice, audited with who asked and which message it repeats."""

from __future__ import annotations

from mailapp.access.audit import Actor, record_audit
from mailapp.delivery.message_tags import tags_of
from mailapp.delivery.transactional import get_message, request_send, submit_message
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.models import DeliveryStatus, Message, Project

# Still on its way: a resend now would race the first one.
IN_FLIGHT = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


def resend_message(project: Project, message_id: int, *, actor: Actor) -> Message:
    """A copy of a message (recipient, sender, template version or inline content, data,
    tags) accepted as a new message, and sent; refused while the original is in flight or
    when its content is gone."""
    original = get_message(project.id, message_id)
    if original.status in IN_FLIGHT:
        raise ServiceError(
            f"message {original.id} is still {original.status.value}: wait for its outcome"
        )
    if original.template_version_id is None and not original.content:
        raise ServiceError(f"message {original.id} has no content left to send again")
    copy, _ = submit_message(
        project,
        actor=actor,
        to=original.recipient,
        sender_id=original.sender_id,
        template_id=None,
        content=original.content if original.template_version_id is None else None,
        data=original.data,
        tags=tags_of(project.id, [original.id])[original.id],
        resend_of_id=original.id,
        version_id=original.template_version_id,
        track_opens=original.track_opens,
    )
    record_audit(
        actor,
        "message.resend",
        project_id=project.id,
        obj=original,
        context={"new_message_id": copy.id, "recipient": copy.recipient},
    )
    db.session.commit()
    if copy.status == DeliveryStatus.QUEUED:
        request_send(copy.id)
    return copy
