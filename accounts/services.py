"""Every write to accounts: users, tokens, realtime tickets, guardian links and consents."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import knox_settings

from accounts import two_factor
from accounts.models import (
    ADULT_MIN_AGE,
    AgeBand,
    Consent,
    ConsentScope,
    GuardianLink,
    Role,
    User,
    age_band_for,
    validate_time_zone,
    years_before,
)
from accounts.selectors import consents_in_force
from audit import services as audit
from server.realtime import close_user_sockets_on_commit
from server.redis_client import get_redis

TICKET_KEY_PREFIX = "iop:ticket:"


class LoginLockedOut(Exception):
    """Too many failed logins for this account or address."""


class InvalidCredentials(Exception):
    pass


class TokenLimitReached(Exception):
    """The account holds the most unexpired bearer tokens allowed (API_TOKEN_LIMIT_PER_USER)."""


def ensure_admin(user: User) -> None:
    if not (user.is_active and user.role == Role.ADMIN):
        raise PermissionDenied("Only program admins can do this.")


# --- Users -------------------------------------------------------------------------------


def _check_participant_birth_date(role: str, birth_date: date | None) -> None:
    if role != Role.PARTICIPANT:
        if birth_date is not None:
            raise ValidationError({"birth_date": "Only participants have a birth date on record."})
        return
    if birth_date is None:
        raise ValidationError({"birth_date": "Participants need a birth date (it sets their age band)."})
    today = timezone.localdate()
    if birth_date > today:
        raise ValidationError({"birth_date": "Birth date is in the future."})
    if age_band_for(birth_date, today) is None:
        raise ValidationError({"birth_date": "Participants must be at least 12 years old."})


def create_user(
    *,
    by: User | None,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    time_zone: str | None = None,
) -> User:
    """Create an account. ``by`` is the admin doing it, or None for system seeding."""
    if by is not None:
        ensure_admin(by)
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    _check_participant_birth_date(role, birth_date)
    tz = time_zone or settings.DEFAULT_USER_TIME_ZONE
    try:
        validate_time_zone(tz)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from exc
    user = User(
        username=username,
        role=role,
        email=email,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        time_zone=tz,
        is_staff=role == Role.ADMIN,
        # Program admins manage accounts in the Django admin too (read-only where the rules say so).
        is_superuser=role == Role.ADMIN,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": "That username is taken."})
        user.save()
        audit.record(actor=by, action="user.create", target=user, data={"role": role})
    return user


# Account changes that end every session the person has open, each with the reason their
# sockets are closed for; when several change at once, the first named here is given.
SESSION_ENDING_CHANGES = {"is_active": "deactivated", "password": "password_changed", "role": "role_changed"}


def end_sessions(*, user: User, reason: str) -> None:
    """Access granted before a password, role or active-state change ends: the person's
    bearer tokens stop working now, and with them the unused realtime tickets they asked
    for (a ticket is bound to its token, see TicketHolder); their open sockets close once
    the change commits. Call inside the change's transaction."""
    AuthToken.objects.filter(user=user).delete()
    close_user_sockets_on_commit(user.pk, reason=reason)


def save_user_from_admin(*, by: User, user: User, changed_fields: list[str], created: bool) -> User:
    """The Django admin's add and change forms save here (the admin has checked ``by``'s
    permission): audited like the API's changes, and a change of password, role or active
    state ends the person's sessions as the API's does."""
    fields = sorted({"password" if "password" in name else name for name in changed_fields})
    if created:
        action = "user.create"
    elif "is_active" in fields:
        action = "user.reactivate" if user.is_active else "user.deactivate"
    else:
        action = "user.update"
    if "role" in fields:
        # The role decides who runs the program, in the Django admin too (as create_user
        # sets it): a demoted admin leaves the admin, a promoted one gets in.
        user.is_staff = user.is_superuser = user.role == Role.ADMIN
    with transaction.atomic():
        user.save()
        if not created:
            # Reactivating someone opens nothing that should be closed.
            ending = [f for f in SESSION_ENDING_CHANGES if f in fields and not (f == "is_active" and user.is_active)]
            if ending:
                end_sessions(user=user, reason=SESSION_ENDING_CHANGES[ending[0]])
        audit.record(actor=by, action=action, target=user, data={"fields": fields, "via": "admin"})
    return user


def record_password_change(*, by: User | None, user: User, via: str) -> None:
    """A password set by code that saves it itself (the Django admin's password form,
    ``manage.py changepassword``): the sessions the old password opened end, and it is
    audited. Call in the transaction that saved it. ``by`` None: an operator at the shell."""
    with transaction.atomic():
        end_sessions(user=user, reason="password_changed")
        audit.record(actor=by, action="user.update", target=user, data={"fields": ["password"], "via": via})


USER_EDITABLE_FIELDS = frozenset({"email", "first_name", "last_name", "time_zone", "birth_date"})


def update_user(*, by: User, user: User, changes: dict[str, Any], password: str | None = None) -> User:
    ensure_admin(by)
    unknown = set(changes) - USER_EDITABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if "time_zone" in changes:
        try:
            validate_time_zone(changes["time_zone"])
        except ValidationError as exc:
            raise ValidationError({"time_zone": exc.messages}) from exc
    if "birth_date" in changes:
        _check_participant_birth_date(user.role, changes["birth_date"])
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        for name, value in changes.items():
            setattr(user, name, value)
        if password is not None:
            user.set_password(password)
            end_sessions(user=user, reason="password_changed")
        user.save()
        audit.record(
            actor=by,
            action="user.update",
            target=user,
            data={"fields": sorted(changes) + (["password"] if password is not None else [])},
        )
    return user


def deactivate_user(*, by: User, user: User) -> User:
    ensure_admin(by)
    if user.pk == by.pk:
        raise ValidationError("You cannot deactivate your own account.")
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        end_sessions(user=user, reason="deactivated")
        audit.record(actor=by, action="user.deactivate", target=user)
    return user


def reactivate_user(*, by: User, user: User) -> User:
    ensure_admin(by)
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        audit.record(actor=by, action="user.reactivate", target=user)
    return user


# --- Tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def authenticate_password(*, request: HttpRequest, username: str, password: str) -> User:
    """The account these credentials open (failed attempts are counted by django-axes)."""
    try:
        user = authenticate(request=request, username=username, password=password)
    except AxesBackendPermissionDenied:
        locked = True
    else:
        locked = bool(getattr(request, "axes_locked_out", False))
    # Failures and lock-outs are audited by accounts/signals.py, for the admin's sign-in too.
    if locked:
        raise LoginLockedOut()
    if user is None or not isinstance(user, User):
        raise InvalidCredentials()
    return user


def _at_token_limit(user: User) -> bool:
    """The user holds as many unexpired bearer tokens as API_TOKEN_LIMIT_PER_USER allows
    (knox's LoginView counts the same way; None: no limit)."""
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is None:
        return False
    unexpired = AuthToken.objects.filter(Q(expiry__gt=timezone.now()) | Q(expiry__isnull=True), user=user)
    return unexpired.count() >= limit


def _refuse_past_token_limit(user: User) -> NoReturn:
    with transaction.atomic():
        audit.record(
            actor=None,
            action="auth.login_refused",
            target=user,
            data={"username": user.get_username(), "reason": "token_limit"},
        )
    raise TokenLimitReached()


def _token_within_limit(*, user: User, second_factor: str | None) -> IssuedToken | None:
    """A new bearer token for ``user``, audited; None (nothing written) at the limit."""
    with transaction.atomic():
        # The user's row lock makes their concurrent sign-ins count one after another, so
        # together they cannot pass the limit.
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
        if _at_token_limit(user):
            return None
        instance, token = AuthToken.objects.create(user=user, expiry=settings.API_TOKEN_TTL)
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
        audit.record(
            actor=user,
            action="auth.login",
            target=user,
            data={"second_factor": second_factor} if second_factor else None,
        )
    assert instance.expiry is not None
    return IssuedToken(token=token, expires_at=instance.expiry, user=user)


def issue_token(*, request: HttpRequest, username: str, password: str, otp: str | None = None) -> IssuedToken:
    """Check the password and, for staff, the second factor (accounts/two_factor.py);
    then issue a bearer token, unless the user already holds API_TOKEN_LIMIT_PER_USER
    unexpired ones (TokenLimitReached, audited: sign out elsewhere, or wait for one to
    expire), as knox's own LoginView refuses."""
    user = authenticate_password(request=request, username=username, password=password)
    # Checked before the second factor too, so a refused sign-in does not use up a
    # single-use recovery code; checked again under the lock where the token is made.
    if _at_token_limit(user):
        _refuse_past_token_limit(user)
    second_factor = two_factor.check_sign_in(request=request, user=user, username=username, otp=otp)
    issued = _token_within_limit(user=user, second_factor=second_factor)
    if issued is None:
        _refuse_past_token_limit(user)
    return issued


def revoke_token(*, user: User, token: AuthToken) -> None:
    """Logout: the token stops working and the user's open sockets close."""
    with transaction.atomic():
        token.delete()
        audit.record(actor=user, action="auth.logout", target=user)
        close_user_sockets_on_commit(user.pk, reason="logout")


def purge_expired_tokens() -> int:
    """Delete the bearer tokens that have expired (since the last run: earlier ones are
    gone) and close the sockets opened with them: an expired token already opens nothing
    new (accounts.selectors.realtime_user), and a socket it opened must not outlive it.
    The revocation names the token's digest, so the person's sockets opened with another,
    live token stay open. Idempotent: a second run finds nothing."""
    with transaction.atomic():
        # skip_locked: two overlapping runs each take different tokens, never one twice.
        expired = list(
            AuthToken.objects.select_for_update(skip_locked=True)
            .filter(expiry__lt=timezone.now())
            .values_list("digest", "user_id")
        )
        AuthToken.objects.filter(digest__in=[digest for digest, _ in expired]).delete()
        for digest, user_id in expired:
            close_user_sockets_on_commit(user_id, reason="token_expired", token_digest=digest)
    return len(expired)


# --- Sign-in audit (accounts/signals.py calls these for every sign-in path) ---------------


def record_session_sign_in(*, user: User, via: str = "admin") -> None:
    """A sign-in that opened a browser session: the Django admin's or the web client's
    (``via``). API sign-ins are audited by issue_token, which opens none."""
    with transaction.atomic():
        audit.record(actor=user, action="auth.login", target=user, data={"via": via})


def record_session_sign_out(*, user: User, via: str = "admin") -> None:
    """A browser session's sign-out (an API logout is audited by revoke_token)."""
    with transaction.atomic():
        audit.record(actor=user, action="auth.logout", target=user, data={"via": via})


def record_failed_sign_in(*, username: str) -> None:
    """Wrong credentials, on any sign-in path. Only the username is kept, never the password."""
    with transaction.atomic():
        audit.record(actor=None, action="auth.login_failed", data={"username": username[:150]})


def record_lockout(*, username: str) -> None:
    """django-axes locked the account or address out (or refused an attempt while it is)."""
    with transaction.atomic():
        audit.record(actor=None, action="auth.login_locked_out", data={"username": username[:150]})


# --- Realtime tickets --------------------------------------------------------------------


@dataclass(frozen=True)
class RealtimeTicket:
    ticket: str
    expires_at: datetime


@dataclass(frozen=True)
class TicketHolder:
    """Who a consumed realtime ticket was issued to: the user and, for a ticket an API
    client asked for, the digest of the bearer token it asked with (knox's primary key,
    not the token). Logout, a password change and deactivation delete that token, and
    with it whatever the ticket would still open (accounts.selectors.realtime_user)."""

    user_id: int
    token_digest: str | None = None


def _ticket_key(ticket: str) -> str:
    # Only a digest is stored, so a Redis dump does not hand out live tickets.
    return TICKET_KEY_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def issue_realtime_ticket(*, user: User, token: AuthToken | None = None) -> RealtimeTicket:
    """A single-use ticket for one websocket handshake. ``token``: the bearer token of the
    request asking for it (the API always passes it); None only for tickets the server
    issues itself (the bench, tests)."""
    ttl = settings.REALTIME_TICKET_TTL_SECONDS
    ticket = secrets.token_urlsafe(32)
    holder = f"{user.pk}:{token.digest}" if token is not None else str(user.pk)
    get_redis().set(_ticket_key(ticket), holder, ex=ttl)
    return RealtimeTicket(ticket=ticket, expires_at=timezone.now() + timedelta(seconds=ttl))


def consume_realtime_ticket(*, ticket: str) -> TicketHolder | None:
    """Who the ticket was issued to, once; None if unknown, expired or used."""
    if not ticket or len(ticket) > 128:
        return None
    raw = get_redis().getdel(_ticket_key(ticket))
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    user_id, _, token_digest = text.partition(":")
    return TicketHolder(user_id=int(user_id), token_digest=token_digest or None)


# --- Guardians and consent ---------------------------------------------------------------


def link_guardian(*, by: User, guardian: User, adolescent: User, relationship: str = "parent") -> GuardianLink:
    ensure_admin(by)
    if guardian.role != Role.GUARDIAN:
        raise ValidationError({"guardian": "This user is not a guardian."})
    if adolescent.role != Role.PARTICIPANT or adolescent.age_band != AgeBand.ADOLESCENT:
        raise ValidationError({"adolescent": "Guardians can only be linked to adolescent participants (12-17)."})
    try:
        with transaction.atomic():
            link = GuardianLink.objects.create(
                guardian=guardian, adolescent=adolescent, relationship=relationship, created_by=by
            )
            audit.record(
                actor=by,
                action="guardian_link.create",
                target=link,
                data={"guardian": guardian.pk, "adolescent": adolescent.pk},
            )
    except IntegrityError as exc:
        raise ValidationError("This guardian is already linked to this adolescent.") from exc
    return link


def revoke_guardian_link(*, by: User, link: GuardianLink) -> GuardianLink:
    ensure_admin(by)
    if not link.is_active:
        raise ValidationError("This link is already revoked.")
    with transaction.atomic():
        now = timezone.now()
        link.revoked_at = now
        link.save(update_fields=["revoked_at"])
        link.consents.filter(revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
        audit.record(actor=by, action="guardian_link.revoke", target=link)
        close_user_sockets_on_commit(link.guardian_id, reason="guardian_link_revoked")
    return link


def give_consent(*, by: User, link: GuardianLink, scopes: list[str]) -> Consent:
    """Only the adolescent can consent to disclosure to their guardian (42 CFR Part 2).
    A new consent replaces the active one."""
    if by.pk != link.adolescent_id:
        raise PermissionDenied("Only the adolescent can give consent to share their information.")
    if not link.is_active:
        raise ValidationError("This guardian link has been revoked.")
    unknown = [scope for scope in scopes if scope not in ConsentScope.values]
    if unknown:
        raise ValidationError({"scopes": [f"Unknown scope {scope!r}." for scope in unknown]})
    if not scopes:
        # A consent that shares nothing is no consent; revoke the consent instead.
        raise ValidationError({"scopes": ["Name at least one scope, or revoke the consent."]})
    with transaction.atomic():
        # Lock the link so two concurrent consents cannot both become active.
        GuardianLink.objects.select_for_update().get(pk=link.pk)
        now = timezone.now()
        replaced = list(link.consents.filter(revoked_at__isnull=True))
        link.consents.filter(revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
        consent = Consent.objects.create(link=link, scopes=sorted(set(scopes)))
        audit.record(
            actor=by,
            action="consent.give",
            target=consent,
            data={"link": link.pk, "scopes": consent.scopes, "replaces": [c.pk for c in replaced]},
        )
        narrowed = any(set(old.scopes) - set(consent.scopes) for old in replaced)
        if narrowed:
            close_user_sockets_on_commit(link.guardian_id, reason="consent_changed")
    return consent


def revoke_consent(*, by: User, consent: Consent) -> Consent:
    link = consent.link
    if by.pk != link.adolescent_id and by.role != Role.ADMIN:
        raise PermissionDenied("Only the adolescent (or a program admin on their request) can revoke consent.")
    if not consent.is_active:
        raise ValidationError("This consent is already revoked.")
    with transaction.atomic():
        consent.revoked_at = timezone.now()
        consent.revoked_by = by
        consent.save(update_fields=["revoked_at", "revoked_by"])
        audit.record(actor=by, action="consent.revoke", target=consent, data={"link": link.pk})
        close_user_sockets_on_commit(link.guardian_id, reason="consent_revoked")
    return consent


def end_guardian_access_at_adulthood() -> int:
    """At 18 a participant's guardian links end (a beat task, idempotent): a minor's
    consents stop counting that day (accounts.selectors.consents_in_force); this revokes
    the link and those consents, tells the guardian why, closes their sockets and audits
    it. A link whose consent in force the participant gave as an adult stays.
    Returns the number of links ended."""
    from notifications.kinds import NotificationKind
    from notifications.services import notify

    adult_if_born_by = years_before(timezone.localdate(), ADULT_MIN_AGE)
    due = (
        GuardianLink.objects.filter(revoked_at__isnull=True, adolescent__birth_date__lte=adult_if_born_by)
        .exclude(pk__in=consents_in_force().values("link"))
        .values_list("pk", flat=True)
    )
    ended = 0
    for link_id in list(due):
        with transaction.atomic():
            link = GuardianLink.objects.select_for_update().select_related("guardian").get(pk=link_id)
            if link.revoked_at is not None:
                continue  # another run ended it meanwhile
            now = timezone.now()
            link.revoked_at = now
            link.save(update_fields=["revoked_at"])
            link.consents.filter(revoked_at__isnull=True).update(revoked_at=now)
            audit.record(actor=None, action="guardian_link.end_at_adulthood", target=link)
            notify(
                recipient=link.guardian,
                kind=NotificationKind.GUARDIAN_ACCESS_ENDED,
                data={"link": reverse("me")},  # a page the server serves
                dedupe_key=f"guardian_access_ended:{link.pk}",
            )
            # Room consumers close a guardian's sockets on this reason.
            close_user_sockets_on_commit(link.guardian_id, reason="consent_revoked")
            ended += 1
    return ended
