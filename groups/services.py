"""Every write to therapy groups: creation, facilitators, membership and its rosters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import ensure_admin
from audit import services as audit
from groups.models import MAX_GROUP_CAPACITY, GroupMembership, Modality, TherapyGroup
from programs.models import Program
from server.errors import Conflict
from server.realtime import close_user_sockets_on_commit
from server.service_helpers import check_editable
from sessions.models import RosterEntry, Session, SessionStatus


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
        for name in ("title", "modality", "capacity", "lead_facilitator"):
            if name in changes:
                setattr(group, name, changes[name])
        group.save()
        if "co_facilitators" in changes:
            group.co_facilitators.set(co)
        audit.record(actor=by, action="group.update", target=group, data={"fields": sorted(changes)})
    return group


def _check_member_fits(group: TherapyGroup, participant: User) -> None:
    if participant.role == Role.GUARDIAN:
        raise ValidationError({"participant": "Guardians are never members of a therapy group."})
    if participant.role != Role.PARTICIPANT:
        raise ValidationError({"participant": "Only participants can be group members."})
    if participant.age_band != group.age_band:
        raise ValidationError(
            {"participant": f"This is an {group.age_band} group; adolescents and adults are never mixed."}
        )


def _future_sessions(group: TherapyGroup) -> Any:
    """Sessions of the group that have not ended or been cancelled (including one open now)."""
    return Session.objects.filter(
        group=group, ends_at__gt=timezone.now(), ended_at__isnull=True, cancelled_at__isnull=True
    )


def add_member(*, by: User, group: TherapyGroup, participant: User) -> GroupMembership:
    ensure_can_manage_group(group=group, user=by)
    _check_member_fits(group, participant)
    with transaction.atomic():
        # Lock the group so two additions cannot both take the last place.
        TherapyGroup.objects.select_for_update().get(pk=group.pk)
        active = group.memberships.filter(left_at__isnull=True)
        if active.filter(participant=participant).exists():
            raise Conflict("This participant is already a member.", code="already_member")
        if active.count() >= group.capacity:
            raise Conflict("The group is full.", code="group_full")
        membership = GroupMembership.objects.create(group=group, participant=participant)
        for session in _future_sessions(group).filter(starts_at__gt=timezone.now()):
            RosterEntry.objects.update_or_create(
                session=session, user=participant, defaults={"removed_at": None, "role": "participant"}
            )
        audit.record(
            actor=by, action="group.member_add", target=membership, data={"group": group.pk, "user": participant.pk}
        )
    return membership


def remove_member(*, by: User, group: TherapyGroup, participant: User) -> GroupMembership:
    """Leaves the group and the rosters of its future sessions; a socket in a session
    open now closes."""
    ensure_can_manage_group(group=group, user=by)
    with transaction.atomic():
        membership = group.memberships.filter(participant=participant, left_at__isnull=True).first()
        if membership is None:
            raise Conflict("This participant is not a member.", code="not_member")
        now = timezone.now()
        membership.left_at = now
        membership.save(update_fields=["left_at"])
        entries = RosterEntry.objects.filter(
            session__in=_future_sessions(group), user=participant, removed_at__isnull=True
        ).select_related("session")
        for entry in entries:
            if entry.session.status_at(now) == SessionStatus.OPEN:
                close_user_sockets_on_commit(participant.pk, reason="removed_from_roster", session_id=entry.session_id)
        entries.update(removed_at=now)
        audit.record(
            actor=by,
            action="group.member_remove",
            target=membership,
            data={"group": group.pk, "user": participant.pk},
        )
    return membership
