"""Who may enter a live room, decided once per socket at the handshake.

A refusal is a ``RoomRefused`` with a reason (members.Refusal); the consumer turns the
reason into its close code. Facilitators enter as hosts; a roster member enters as a
participant or guardian only if the room's rules allow it (CLINICAL.md: age-matched
groups, guardians only in family sessions and only with the adolescent's consent).
"""

from __future__ import annotations

from django.db.models import Exists

from accounts.models import ConsentScope, Role, User
from accounts.selectors import consents_in_force, realtime_user
from accounts.services import TicketHolder
from measures.checkin import missing_checkin_annotations, must_check_in
from sessions.models import (
    FacilitatorRole,
    RoomRemoval,
    RosterEntry,
    RosterRole,
    Session,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from sessions.rooms.members import Refusal, RoomMember, RoomRefused, display_name


def facilitators(session_id: int) -> tuple[dict[int, str], int | None, frozenset[int]]:
    """The session's hosts: user id -> facilitator role, the lead's id, the co-hosts' ids."""
    roles = dict(SessionFacilitator.objects.filter(session_id=session_id).values_list("clinician_id", "role"))
    lead_id = next((uid for uid, role in roles.items() if role == FacilitatorRole.LEAD), None)
    return roles, lead_id, frozenset(uid for uid, role in roles.items() if role == FacilitatorRole.CO)


def roles_in_session(session_id: int) -> dict[int, str]:
    """Everyone's role in the session: roster roles, then facilitator roles over them."""
    roles = dict(RosterEntry.objects.filter(session_id=session_id).values_list("user_id", "role"))
    return {**roles, **facilitators(session_id)[0]}


def _guardian_may_join(session: Session, guardian: User) -> bool:
    """A guardian joins only a family session, and only with an active link to an
    adolescent on its roster whose consent in force shares their schedule."""
    if session.kind != SessionKind.FAMILY or guardian.role != Role.GUARDIAN:
        return False
    participants = RosterEntry.objects.filter(
        session=session, role=RosterRole.PARTICIPANT, removed_at__isnull=True
    ).values("user_id")
    # Asked of consents in force, not of GuardianLink: a link with no consent row must not
    # pass, nor a minor's consent once they turned 18 (accounts/selectors.py).
    return (
        consents_in_force()
        .filter(link__guardian=guardian, link__adolescent_id__in=participants, scopes__contains=[ConsentScope.SCHEDULE])
        .exists()
    )


def authorize_holder(*, session_id: int, holder: TicketHolder) -> RoomMember:
    """The holder of a consumed ticket may still connect (active, token alive), then
    ``authorize_entry``. The consumer calls it once its socket listens for revocations of
    the holder (server/ws.py), so none committed meanwhile is missed."""
    user = realtime_user(holder)
    if user is None:
        raise RoomRefused(Refusal.BAD_TICKET, "the user may no longer connect")
    return authorize_entry(session_id=session_id, user=user)


def authorize_entry(*, session_id: int, user: User) -> RoomMember:
    session = Session.objects.select_related("group__program").filter(pk=session_id).first()
    if session is None:
        raise RoomRefused(Refusal.NOT_FOUND, "no such session")
    hosts, lead_id, co_ids = facilitators(session.pk)
    role = hosts.get(user.pk)
    if role is None:
        entry = (
            RosterEntry.objects.filter(session=session, user=user, removed_at__isnull=True)
            .annotate(removed_by_host=Exists(RoomRemoval.objects.filter(session=session, user=user)))
            .annotate(**missing_checkin_annotations(session.pk, user_ref="user_id"))
            .first()
        )
        if entry is None or entry.removed_by_host:
            raise RoomRefused(Refusal.FORBIDDEN, "not on this session's roster")
        if entry.role == RosterRole.GUARDIAN:
            if not _guardian_may_join(session, user):
                raise RoomRefused(Refusal.FORBIDDEN, "guardians join family sessions of a consenting adolescent")
        elif user.role != Role.PARTICIPANT:
            raise RoomRefused(Refusal.FORBIDDEN, "not a participant")
        elif session.group is not None and session.group.age_band != user.age_band:
            raise RoomRefused(Refusal.FORBIDDEN, "this group is for another age band")
        role = entry.role
        # Until they check in (when their program requires it) they wait to be admitted.
        admit_directly = session.admit_directly and not must_check_in(session, entry)
    else:
        admit_directly = session.admit_directly
    if session.status != SessionStatus.OPEN:
        raise RoomRefused(Refusal.NOT_OPEN, "session is not open")
    return RoomMember(session.pk, user.pk, display_name(user), user.username, role, lead_id, co_ids, admit_directly)


def member_for(session_id: int, user_id: int) -> RoomMember:
    """A RoomMember rebuilt from the database, for departures found by the sweeper."""
    user = User.objects.get(pk=user_id)
    hosts, lead_id, co_ids = facilitators(session_id)
    role = hosts.get(user_id) or (
        RosterEntry.objects.filter(session_id=session_id, user_id=user_id).values_list("role", flat=True).first()
        or RosterRole.PARTICIPANT
    )
    return RoomMember(session_id, user_id, display_name(user), user.username, role, lead_id, co_ids)
