"""Sign-in and sign-out of the web client, with Django's session cookie.

The same checks as the API's token sign-in (accounts.services.issue_token): django-axes
counts and locks out failed passwords, staff give their second factor by the API's rule
(accounts.two_factor), and a wrong code counts as a failed login. A staff member's
password opens a pending step, kept in the session for a few minutes, that only the code
completes; the password is never kept."""

from __future__ import annotations

import time
from dataclasses import dataclass

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import login, logout
from django.db import transaction
from django.http import HttpRequest

from accounts import services as accounts
from accounts import two_factor
from accounts.models import User
from server.realtime import close_user_sockets_on_commit

PENDING_KEY = "web_pending_second_factor"
# Seconds a staff member has to enter their code after their password matched.
PENDING_SECONDS = 300
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignInRefused(Exception):
    """Wrong credentials, an account that cannot sign in here, or a lock-out."""

    def __init__(self, message: str, *, locked_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.locked_out = locked_out


@dataclass(frozen=True)
class SignInStep:
    """``user`` is signed in, or (``needs_code``) the password matched and a code is due."""

    user: User | None
    needs_code: bool


WRONG_CREDENTIALS = "Wrong username or password."
LOCKED_OUT = "Too many failed sign-ins. Try again later."
NO_AUTHENTICATOR = (
    "Staff accounts need an authenticator app. Set one up through the API "
    "(POST /api/v1/auth/totp/), then sign in here with its code."
)


def _password_user(*, request: HttpRequest, username: str, password: str) -> User:
    try:
        return accounts.authenticate_password(request=request, username=username, password=password)
    except accounts.LoginLockedOut as exc:
        raise SignInRefused(LOCKED_OUT, locked_out=True) from exc
    except accounts.InvalidCredentials as exc:
        raise SignInRefused(WRONG_CREDENTIALS) from exc


def _open_session(request: HttpRequest, user: User) -> None:
    # login() rotates the session key (no fixation) and announces the sign-in, which
    # accounts/signals.py audits.
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=SESSION_BACKEND)


def sign_in(*, request: HttpRequest, username: str, password: str) -> SignInStep:
    user = _password_user(request=request, username=username, password=password)
    try:
        two_factor.check_sign_in(request=request, user=user, username=username, otp=None)
    except two_factor.SecondFactorEnrolmentRequired as exc:
        raise SignInRefused(NO_AUTHENTICATOR) from exc
    except two_factor.SecondFactorRequired:
        request.session.cycle_key()
        request.session[PENDING_KEY] = {"user": user.pk, "username": username, "at": time.time()}
        return SignInStep(user=None, needs_code=True)
    _open_session(request, user)
    return SignInStep(user=user, needs_code=False)


def pending_second_factor(request: HttpRequest) -> str | None:
    """The username waiting for its code, while the step is fresh."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return str(pending["username"])


def confirm_second_factor(*, request: HttpRequest, code: str) -> User:
    username = pending_second_factor(request)
    pending = request.session.get(PENDING_KEY) or {}
    user = User.objects.filter(pk=int(pending["user"]), is_active=True).first() if username else None
    if user is None:
        request.session.pop(PENDING_KEY, None)
        raise SignInRefused("Sign in again: that step expired.")
    assert username is not None
    # Each API attempt sends the password, which django-axes checks; here the code step
    # asks it too, so failed codes lock out as failed passwords do.
    if AxesProxyHandler.is_locked(request, {"username": username}):
        raise SignInRefused(LOCKED_OUT, locked_out=True)
    try:
        two_factor.check_sign_in(request=request, user=user, username=username, otp=code)
    except two_factor.SecondFactorInvalid as exc:
        raise SignInRefused("That code is not right.") from exc
    except (two_factor.SecondFactorRequired, two_factor.SecondFactorEnrolmentRequired) as exc:
        raise SignInRefused("Enter the code from your authenticator app.") from exc
    _open_session(request, user)
    return user


def sign_out(*, request: HttpRequest) -> None:
    """Ends the browser session and closes the person's open sockets (as an API logout does)."""
    user = request.user
    with transaction.atomic():
        if isinstance(user, User):
            close_user_sockets_on_commit(user.pk, reason="logout")
        logout(request)
