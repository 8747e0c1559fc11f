"""The safety check-in before a session (CLINICAL.md, telehealth): where the participant is
and whom to call. Stored per session, audited (without its content), shown to the
session's hosts only, never sent in a notification or an email, never logged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef

from accounts.models import Role, User
from audit.services import record
from measures.models import CheckIn
from programs.models import Enrollment, EnrollmentStatus
from sessions.models import RosterEntry, RosterRole, Session, SessionStatus


@dataclass(frozen=True)
class CheckInData:
    region: str
    country: str
    address: str
    contact_name: str
    contact_relation: str
    contact_phone: str


def e164_or_refusal(phone: str, country: str) -> str:
    """The number in E.164 (read as a local number of ``country`` when it has no +)."""
    try:
        parsed = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"emergency_contact": "Enter a valid phone number for the emergency contact."})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def check_in(*, session: Session, participant: User, data: CheckInData) -> CheckIn:
    """Record (or replace) the participant's check-in for this session; the session's hosts
    in its open room get a ``checkin.received`` frame after commit."""
    from sessions.rooms.checkins import announce_checkin_on_commit

    if (
        participant.role != Role.PARTICIPANT
        or not RosterEntry.objects.filter(
            session=session, user=participant, role=RosterRole.PARTICIPANT, removed_at__isnull=True
        ).exists()
    ):
        raise PermissionDenied("Only a participant on this session's roster checks in for it.")
    if session.status in (SessionStatus.ENDED, SessionStatus.CANCELLED):
        raise ValidationError({"session": "This session is over: there is nothing to check in for."})
    phone = e164_or_refusal(data.contact_phone, data.country)
    with transaction.atomic():
        checkin, created = CheckIn.objects.update_or_create(
            session=session,
            participant=participant,
            defaults={
                "region": data.region,
                "country": data.country,
                "address": data.address,
                "contact_name": data.contact_name,
                "contact_relation": data.contact_relation,
                "contact_phone": phone,
            },
        )
        record(
            actor=participant, action="session.checkin", target=checkin, data={"session": session.pk, "new": created}
        )
        announce_checkin_on_commit(session.pk, checkin)
    return checkin


def last_checkin(*, participant: User, session: Session) -> CheckIn | None:
    """This session's check-in, else the participant's last one (to prefill the form)."""
    own = CheckIn.objects.filter(session=session, participant=participant).first()
    return own or CheckIn.objects.filter(participant=participant).order_by("-updated_at", "-id").first()


def checkin_required_for(*, session_id: int, participant_ids: Iterable[int]) -> set[int]:
    """Which of these people must still check in before being admitted: participants on
    the roster whose program requires it (the group's program, else their active
    enrollment's; without either, required) and who have not checked in (one query)."""
    ids = list(participant_ids)
    if not ids:
        return set()
    entries = (
        RosterEntry.objects.filter(session_id=session_id, user_id__in=ids, role=RosterRole.PARTICIPANT)
        .filter(removed_at__isnull=True)
        .select_related("session__group__program")
        .annotate(**missing_checkin_annotations(session_id, user_ref="user_id"))
    )
    return {entry.user_id for entry in entries if must_check_in(entry.session, entry)}


def missing_checkin_annotations(session_id: int, *, user_ref: str) -> dict[str, object]:
    """Annotations of a query over roster entries (``user_ref`` names the person) that tell
    must_check_in its answer without another query: whether they checked in, and their
    active enrollment's program rule."""
    enrollment_rule = Enrollment.objects.filter(
        participant_id=OuterRef(user_ref), status=EnrollmentStatus.ACTIVE, program__checkin_required=False
    )
    return {
        "has_checked_in": Exists(CheckIn.objects.filter(session_id=session_id, participant_id=OuterRef(user_ref))),
        "program_waives_checkin": Exists(enrollment_rule),
    }


def must_check_in(session: Session, entry: RosterEntry) -> bool:
    if entry.role != RosterRole.PARTICIPANT or getattr(entry, "has_checked_in", False):
        return False
    group = session.group
    if group is not None:
        return bool(group.program.checkin_required)
    return not getattr(entry, "program_waives_checkin", False)


def checkins_of(session_id: int) -> list[CheckIn]:
    """The session's check-ins (hosts' view of the room)."""
    return list(CheckIn.objects.filter(session_id=session_id).order_by("participant_id"))
