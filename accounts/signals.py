"""Sign-in audit for every path that signs people in: the API's token endpoint and the
Django admin's login form both authenticate through django.contrib.auth, which announces
failures, and the admin's login and logout announce themselves; django-axes announces
lock-outs. The receivers only pick the service that writes the audit entry."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts import services
from accounts.models import User

# Senders of user_login_failed that audit their own refusal, with its reason: a wrong second
# factor at API sign-in. Others (django.contrib.auth's authenticate() for a wrong password,
# the admin's login form for a wrong second factor) are audited here.
SELF_AUDITING_SENDERS = frozenset({"accounts.two_factor"})


def _username(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _via(request: Any) -> str:
    """Which browser sign-in: the Django admin's, or the web client's (web/)."""
    path = getattr(request, "path", "") or ""
    return "admin" if path.startswith("/admin/") else "web"


@receiver(user_logged_in, dispatch_uid="accounts.audit_session_sign_in")
def audit_session_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):
        services.record_session_sign_in(user=user, via=_via(request))


@receiver(user_logged_out, dispatch_uid="accounts.audit_session_sign_out")
def audit_session_sign_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):  # None when no one was signed in
        services.record_session_sign_out(user=user, via=_via(request))


@receiver(user_login_failed, dispatch_uid="accounts.audit_failed_sign_in")
def audit_failed_sign_in(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    if sender in SELF_AUDITING_SENDERS:
        return
    # An attempt made while locked out is audited as a lock-out (audit_lockout below); asked
    # of axes itself, since its receiver may not have run yet.
    if request is not None and (
        getattr(request, "axes_locked_out", False) or AxesProxyHandler.is_locked(request, credentials)
    ):
        return
    # Django has already masked the password in ``credentials``; only the username is kept.
    services.record_failed_sign_in(username=_username(credentials.get("username")))


@receiver(user_locked_out, dispatch_uid="accounts.audit_lockout")
def audit_lockout(sender: Any, request: Any = None, username: Any = None, **kwargs: Any) -> None:
    services.record_lockout(username=_username(username))
