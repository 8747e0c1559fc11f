"""Reads about people that several apps need: roles, guardian links and consent scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import DateField, Exists, Func, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import ADULT_MIN_AGE, Consent, ConsentScope, GuardianLink, Role, User, years_before

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


class YearsBefore(Func):
    """A date minus ``years`` calendar years (29 February less a year is 28 February, as in
    accounts.models.years_before)."""

    template = "CAST(%(expressions)s - make_interval(years => %(years)d) AS date)"
    output_field = DateField()


def consents_in_force() -> QuerySet[Consent]:
    """Consents that bind now: not revoked, on a link not revoked, and either the person is
    still under 18 or the consent was given on or after their 18th birthday (an adult's
    own consent). A minor's consent ends with their minority, at once, before the
    hourly task (end_guardian_access_at_adulthood) revokes the link. Ages count in the
    server's TIME_ZONE, the same day for this check and for that task."""
    adult_if_born_by = years_before(timezone.localdate(), ADULT_MIN_AGE)
    given_as_adult = Q(link__adolescent__birth_date__lte=YearsBefore(TruncDate("given_at"), years=ADULT_MIN_AGE))
    return Consent.objects.filter(revoked_at__isnull=True, link__revoked_at__isnull=True).filter(
        Q(link__adolescent__birth_date__gt=adult_if_born_by) | given_as_adult
    )


def active_consent(*, guardian: User, adolescent: User) -> Consent | None:
    return (
        consents_in_force().filter(link__guardian=guardian, link__adolescent=adolescent).order_by("-given_at").first()
    )


def guardian_may_see(*, guardian: User, adolescent: User, scope: ConsentScope | str) -> bool:
    """Every guardian-facing read about an adolescent goes through this check."""
    if guardian.role != Role.GUARDIAN or not guardian.is_active:
        return False
    consent = active_consent(guardian=guardian, adolescent=adolescent)
    return consent is not None and str(scope) in consent.scopes


def is_linked_guardian(*, guardian: User, adolescent: User) -> bool:
    """An active guardian with an active link to the adolescent, whatever the consent says
    (one query). Lets an endpoint tell "ask for consent" (403) from "no such person" (404)."""
    if guardian.role != Role.GUARDIAN or not guardian.is_active:
        return False
    return GuardianLink.objects.filter(guardian=guardian, adolescent=adolescent, revoked_at__isnull=True).exists()


def adolescents_visible_to_guardian(*, guardian: User, scope: ConsentScope | str) -> QuerySet[User]:
    """The adolescents whose ``scope`` this guardian may currently see."""
    consents = consents_in_force().filter(link__guardian=guardian, scopes__contains=[str(scope)])
    return User.objects.filter(pk__in=consents.values("link__adolescent"))


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
