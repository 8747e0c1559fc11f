"""Every write to therapy groups: creation, facilitators, membership and its rosters."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import ensure_admin
from audit import services as audit
from groups.models import MAX_GROUP_CAPACITY, GroupMembership, Modality, TherapyGroup
from programs.models import Enrollment, EnrollmentStatus, Program
from programs.services import NO_SUCH_PARTICIPANT, refuse_person
from server.errors import Conflict
from server.realtime import close_user_sockets_on_commit
from server.service_helpers import check_editable
from sessions import booked_time
from sessions.models import FacilitatorRole, RosterEntry, Session, SessionFacilitator, SessionStatus


def ensure_can_manage_group(*, group: TherapyGroup, user: User) -> None:
    """Admins, and the group's lead facilitator, manage its membership."""
    if user.is_active and (user.role == Role.ADMIN or user.pk == group.lead_facilitator_id):
        return
    raise PermissionDenied("Only program admins and the group's lead facilitator can do this.")


def _check_capacity(capacity: int) -> None:
    if not 1 <= capacity <= MAX_GROUP_CAPACITY:
        raise ValidationError({"capacity": f"Capacity must be between 1 and {MAX_GROUP_CAPACITY}."})


def _check_facilitators(lead: User, co_facilitators: Iterable[User]) -> list[User]:
    co = list(co_facilitators)
    if lead.role != Role.CLINICIAN:
        raise ValidationError({"lead_facilitator": "The lead facilitator must be a clinician."})
    if any(person.role != Role.CLINICIAN for person in co):
        raise ValidationError({"co_facilitators": "Co-facilitators must be clinicians."})
    if any(person.pk == lead.pk for person in co):
        raise ValidationError({"co_facilitators": "The lead facilitator is not also a co-facilitator."})
    return co


def create_group(
    *,
    by: User,
    program: Program,
    title: str,
    modality: str,
    lead_facilitator: User,
    co_facilitators: Iterable[User] = (),
    capacity: int = 12,
) -> TherapyGroup:
    ensure_admin(by)
    if modality not in Modality.values:
        raise ValidationError({"modality": "Unknown modality."})
    _check_capacity(capacity)
    co = _check_facilitators(lead_facilitator, co_facilitators)
    with transaction.atomic():
        group = TherapyGroup.objects.create(
            program=program,
            title=title,
            modality=modality,
            age_band=program.age_band,
            capacity=capacity,
            lead_facilitator=lead_facilitator,
        )
        group.co_facilitators.set(co)
        audit.record(actor=by, action="group.create", target=group, data={"program": program.pk})
    return group


GROUP_EDITABLE_FIELDS = frozenset({"title", "modality", "capacity", "lead_facilitator", "co_facilitators"})


def update_group(*, by: User, group: TherapyGroup, changes: dict[str, Any]) -> TherapyGroup:
    ensure_admin(by)
    check_editable(changes, GROUP_EDITABLE_FIELDS)
    if "modality" in changes and changes["modality"] not in Modality.values:
        raise ValidationError({"modality": "Unknown modality."})
    if "capacity" in changes:
        _check_capacity(changes["capacity"])
        if changes["capacity"] < group.memberships.filter(left_at__isnull=True).count():
            raise Conflict("The group has more members than that capacity.", code="capacity_below_members")
    lead = changes.get("lead_facilitator", group.lead_facilitator)
    co = changes.get("co_facilitators", list(group.co_facilitators.all()))
    co = _check_facilitators(lead, co)
    with transaction.atomic():
        # One change of a group's people at a time, so sessions get the last one.
        TherapyGroup.objects.select_for_update().get(pk=group.pk)
        for name in ("title", "modality", "capacity", "lead_facilitator"):
            if name in changes:
                setattr(group, name, changes[name])
        group.save()
        if "co_facilitators" in changes:
            group.co_facilitators.set(co)
        if "lead_facilitator" in changes or "co_facilitators" in changes:
            hosts: dict[int, str] = {lead.pk: FacilitatorRole.LEAD, **{person.pk: FacilitatorRole.CO for person in co}}
            now = timezone.now()
            _refuse_new_hosts_over_bookings(group=group, people=[lead, *co], now=now)
            _sync_session_hosts(group=group, hosts=hosts, now=now)
        audit.record(actor=by, action="group.update", target=group, data={"fields": sorted(changes)})
    return group


def _refuse_new_hosts_over_bookings(*, group: TherapyGroup, people: list[User], now: datetime) -> None:
    """A clinician who becomes a host of the group's sessions must not have a live booked
    family session over any of them, nor over an occurrence its schedules will generate
    (409 clinician_booked, nothing changed). Under the same lock on their rows that booking
    takes, so a booking and this change cannot pass each other."""
    current = set(
        SessionFacilitator.objects.filter(session__in=_sessions_not_ended(group, now)).values_list(
            "clinician_id", flat=True
        )
    )
    newcomers = [person for person in people if person.pk not in current]
    if not newcomers:
        return
    booked_time.lock_hosts(newcomers)
    sessions = list(_sessions_not_ended(group, now).filter(cancelled_at__isnull=True))
    booked_time.refuse_sessions_over_bookings(hosts=newcomers, sessions=sessions)
    for schedule in group.schedules.filter(cancelled_at__isnull=True):
        booked_time.refuse_schedule_over_bookings(schedule=schedule, hosts=newcomers, now=now)


def _sync_session_hosts(*, group: TherapyGroup, hosts: dict[int, str], now: datetime) -> None:
    """The group's facilitators become the hosts of each of its sessions not yet ended
    (open now or to come); ended ones keep who ran them. A room reads who holds the host
    controls at each action, but a socket keeps the role it was shown at the handshake, so
    whoever loses a host role, or the lead's, in a session open now has their socket there
    closed; they may come back as whatever they now are."""
    sessions = _sessions_not_ended(group, now)
    rows = SessionFacilitator.objects.filter(session__in=sessions)
    for row in rows.select_related("session"):
        kept = hosts.get(row.clinician_id)
        lost_power = kept is None or (row.role == FacilitatorRole.LEAD and kept != FacilitatorRole.LEAD)
        if lost_power and row.session.status_at(now) == SessionStatus.OPEN:
            close_user_sockets_on_commit(row.clinician_id, reason="removed_from_roster", session_id=row.session_id)
    lead_id = next(pk for pk, role in hosts.items() if role == FacilitatorRole.LEAD)
    # In this order, so no session ever has two leads (one_lead_per_session).
    rows.exclude(clinician_id__in=hosts).delete()
    rows.filter(role=FacilitatorRole.LEAD).exclude(clinician_id=lead_id).update(role=FacilitatorRole.CO)
    rows.filter(clinician_id=lead_id, role=FacilitatorRole.CO).update(role=FacilitatorRole.LEAD)
    present = set(rows.values_list("session_id", "clinician_id"))
    SessionFacilitator.objects.bulk_create(
        SessionFacilitator(session_id=session_id, clinician_id=clinician_id, role=role)
        for session_id in sessions.values_list("pk", flat=True)
        for clinician_id, role in hosts.items()
        if (session_id, clinician_id) not in present
    )


def _check_member_fits(*, by: User, group: TherapyGroup, participant: User) -> None:
    """Members are participants with an active enrollment in the group's program (so a
    discharge, which ends the memberships, cannot be undone by re-adding them). A lead
    sees the program's enrolled participants only: any other id gets one uniform refusal
    that says nothing about that person."""

    def refuse(reason: str) -> NoReturn:
        refuse_person(by=by, field="participant", reason=reason, uniform=NO_SUCH_PARTICIPANT)

    if participant.role == Role.GUARDIAN:
        refuse("Guardians are never members of a therapy group.")
    if participant.role != Role.PARTICIPANT:
        refuse("Only participants can be group members.")
    # Locked, so an enrollment ending meanwhile either comes first (and refuses this) or
    # waits and then ends the membership made here.
    enrollment = (
        Enrollment.objects.select_for_update()
        .filter(participant=participant, program_id=group.program_id, status=EnrollmentStatus.ACTIVE)
        .first()
    )
    if enrollment is None:
        refuse("This participant has no active enrollment in the group's program.")
    if participant.age_band != group.age_band:
        raise ValidationError(
            {"participant": f"This is an {group.age_band} group; adolescents and adults are never mixed."}
        )


def _sessions_not_ended(group: TherapyGroup, now: datetime) -> Any:
    """Sessions of the group that have not ended or been cancelled (including one open now)."""
    return Session.objects.filter(group=group, ends_at__gt=now, ended_at__isnull=True, cancelled_at__isnull=True)


def add_member(*, by: User, group: TherapyGroup, participant: User) -> GroupMembership:
    ensure_can_manage_group(group=group, user=by)
    with transaction.atomic():
        # Lock the group so two additions cannot both take the last place.
        TherapyGroup.objects.select_for_update().get(pk=group.pk)
        _check_member_fits(by=by, group=group, participant=participant)
        active = group.memberships.filter(left_at__isnull=True)
        if active.filter(participant=participant).exists():
            raise Conflict("This participant is already a member.", code="already_member")
        if active.count() >= group.capacity:
            raise Conflict("The group is full.", code="group_full")
        membership = GroupMembership.objects.create(group=group, participant=participant)
        for session in _sessions_not_ended(group, timezone.now()).filter(starts_at__gt=timezone.now()):
            RosterEntry.objects.update_or_create(
                session=session, user=participant, defaults={"removed_at": None, "role": "participant"}
            )
        audit.record(
            actor=by, action="group.member_add", target=membership, data={"group": group.pk, "user": participant.pk}
        )
    return membership


def remove_member(*, by: User, group: TherapyGroup, participant: User) -> GroupMembership:
    """Leaves the group and the rosters of its sessions not yet ended; a socket in one open
    now closes."""
    return remove_member_by_id(by=by, group=group, participant_id=participant.pk)


def remove_member_by_id(*, by: User, group: TherapyGroup, participant_id: int) -> GroupMembership:
    """remove_member for an id from a request: an id of no member, or of no account at
    all, gets the same 409, so the answer says nothing about the person."""
    ensure_can_manage_group(group=group, user=by)
    with transaction.atomic():
        TherapyGroup.objects.select_for_update().get(pk=group.pk)  # one removal at a time
        membership = group.memberships.filter(participant_id=participant_id, left_at__isnull=True).first()
        if membership is None:
            raise Conflict("This participant is not a member.", code="not_member")
        _end_membership(by=by, membership=membership, now=timezone.now())
    return membership


def end_memberships_in_program(*, by: User, participant: User, program: Program) -> list[GroupMembership]:
    """The participant leaves every group of the program, as remove_member does (the
    enrollment's end calls it, inside its transaction: no permission check of its own)."""
    memberships = list(
        GroupMembership.objects.filter(participant=participant, group__program=program, left_at__isnull=True)
        .select_related("group")
        .order_by("group_id")  # the order their groups are locked in
    )
    now = timezone.now()
    for membership in memberships:
        _end_membership(by=by, membership=membership, now=now)
    return memberships


def _end_membership(*, by: User, membership: GroupMembership, now: datetime) -> None:
    """The one way a membership ends: left_at, off the rosters of the group's sessions not
    yet ended (history stays), sockets in one open now closed, audited. Under the group's
    lock, so a session being generated now either comes first and is left here, or after
    without them (sessions.services._people_now)."""
    TherapyGroup.objects.select_for_update().get(pk=membership.group_id)
    membership.left_at = now
    membership.save(update_fields=["left_at"])
    entries = RosterEntry.objects.filter(
        session__in=_sessions_not_ended(membership.group, now),
        user_id=membership.participant_id,
        removed_at__isnull=True,
    ).select_related("session")
    for entry in entries:
        if entry.session.status_at(now) == SessionStatus.OPEN:
            close_user_sockets_on_commit(
                membership.participant_id, reason="removed_from_roster", session_id=entry.session_id
            )
    entries.update(removed_at=now)
    audit.record(
        actor=by,
        action="group.member_remove",
        target=membership,
        data={"group": membership.group_id, "user": membership.participant_id},
    )
