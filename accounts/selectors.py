"""Reads about people that several apps need: roles, guardian links and consent scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Consent, ConsentScope, GuardianLink, Role, User

if TYPE_CHECKING:
    from accounts.services import TicketHolder


def realtime_user(holder: TicketHolder) -> User | None:
    """The user a realtime ticket was issued to, while they may still use it: active and,
    for a ticket an API client asked for, while its bearer token is alive (not logged out,
    not ended by a password change or deactivation, not expired). Checked at the handshake
    and again once the socket listens for revocations."""
    users = User.objects.filter(pk=holder.user_id, is_active=True)
    if holder.token_digest is not None:
        alive = AuthToken.objects.filter(digest=holder.token_digest, user=OuterRef("pk")).filter(
            Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
        )
        users = users.filter(Exists(alive))
    return users.first()


def active_consent(*, guardian: User, adolescent: User) -> Consent | None:
    return (
        Consent.objects.filter(
            link__guardian=guardian,
            link__adolescent=adolescent,
            link__revoked_at__isnull=True,
            revoked_at__isnull=True,
        )
        .order_by("-given_at")
        .first()
    )


def guardian_may_see(*, guardian: User, adolescent: User, scope: ConsentScope | str) -> bool:
    """Every guardian-facing read about an adolescent goes through this check."""
    if guardian.role != Role.GUARDIAN or not guardian.is_active:
        return False
    consent = active_consent(guardian=guardian, adolescent=adolescent)
    return consent is not None and str(scope) in consent.scopes


def adolescents_visible_to_guardian(*, guardian: User, scope: ConsentScope | str) -> QuerySet[User]:
    """The adolescents whose ``scope`` this guardian may currently see."""
    return User.objects.filter(
        guardian_links__guardian=guardian,
        guardian_links__revoked_at__isnull=True,
        guardian_links__consents__revoked_at__isnull=True,
        guardian_links__consents__scopes__contains=[str(scope)],
    ).distinct()


def guardian_links_visible_to(user: User) -> QuerySet[GuardianLink]:
    links = GuardianLink.objects.select_related("guardian", "adolescent").order_by("id")
    if user.role == Role.ADMIN:
        return links
    if user.role == Role.GUARDIAN:
        return links.filter(guardian=user)
    if user.role == Role.PARTICIPANT:
        return links.filter(adolescent=user)
    return links.none()


def consents_visible_to(user: User) -> QuerySet[Consent]:
    consents = Consent.objects.select_related("link", "link__guardian", "link__adolescent").order_by("id")
    if user.role == Role.ADMIN:
        return consents
    if user.role == Role.GUARDIAN:
        return consents.filter(link__guardian=user)
    if user.role == Role.PARTICIPANT:
        return consents.filter(link__adolescent=user)
    return consents.none()
