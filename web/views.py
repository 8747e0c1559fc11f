"""Page views of the web client. Pages are shells: their scripts read and write through
the API (/api/v1/) with the session cookie and the CSRF header, and open websockets with
tickets asked for with the cookie. Sign-in and sign-out are forms (web/services.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods, require_POST

from accounts.api import LoginThrottle, login_locked_out_response
from web import pages, services
from web.forms import SecondFactorForm, SignInForm


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("web:home")


def _throttled(request: HttpRequest) -> HttpResponse | None:
    """The API sign-in's per-address limit (DRF's "login" rate), shared with it."""
    throttle = LoginThrottle()
    if throttle.allow_request(request, None):  # type: ignore[arg-type]
        return None
    wait = throttle.wait()
    response = render(
        request,
        "web/signin.html",
        {"form": SignInForm(), "error": services.LOCKED_OUT, "next": _next_url(request)},
        status=429,
    )
    response["Retry-After"] = str(int(wait or 60))
    return response


@ensure_csrf_cookie
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    if services.pending_second_factor(request) and request.method == "GET" and "restart" not in request.GET:
        return render(request, "web/second_factor.html", {"form": SecondFactorForm(), "next": _next_url(request)})
    form = SignInForm(request.POST if request.method == "POST" else None)
    next_url = _next_url(request)
    context = {"form": form, "next": next_url}
    if request.method == "POST":
        if (refusal := _throttled(request)) is not None:
            return refusal
        if form.is_valid():
            try:
                step = services.sign_in(request=request, **form.cleaned_data)
            except services.SignInRefused as exc:
                status = 429 if exc.locked_out else 400
                return render(request, "web/signin.html", {**context, "error": exc.message}, status=status)
            if step.needs_code:
                return render(request, "web/second_factor.html", {"form": SecondFactorForm(), "next": context["next"]})
            return HttpResponseRedirect(next_url)
        return render(request, "web/signin.html", {**context, "error": "Enter your username and password."}, status=400)
    return render(request, "web/signin.html", context)


@require_POST
def second_factor(request: HttpRequest) -> HttpResponse:
    form = SecondFactorForm(request.POST)
    next_url = _next_url(request)
    context = {"form": form, "next": next_url}
    if (refusal := _throttled(request)) is not None:
        return refusal
    if not form.is_valid():
        return render(request, "web/second_factor.html", {**context, "error": "Enter the code."}, status=400)
    try:
        services.confirm_second_factor(request=request, code=form.cleaned_data["code"])
    except services.SignInRefused as exc:
        if services.pending_second_factor(request) is None or exc.locked_out:
            return render(
                request,
                "web/signin.html",
                {"form": SignInForm(), "next": context["next"], "error": exc.message},
                status=429 if exc.locked_out else 400,
            )
        return render(request, "web/second_factor.html", {**context, "error": exc.message}, status=400)
    return HttpResponseRedirect(next_url)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    services.sign_out(request=request)
    return redirect("web:sign-in")


@login_required
@ensure_csrf_cookie
def home(request: HttpRequest) -> HttpResponse:
    return render(request, pages.home_template(request), {"demo": settings.DEMO})


@login_required
@ensure_csrf_cookie
def room(request: HttpRequest, session_id: int) -> HttpResponse:
    # Who may enter is the room socket's to decide (sessions/rooms/access.py); this page is a shell.
    return render(request, "web/room.html", {"session_id": session_id})


def locked_out_response(request: HttpRequest, response: object = None, credentials: object = None) -> HttpResponse:
    """django-axes' lock-out answer (AXES_LOCKOUT_CALLABLE): the API's JSON 429 under
    /api/, the sign-in page with the same 429 and Retry-After elsewhere."""
    if request.path.startswith("/api/"):
        return login_locked_out_response(request, response, credentials)
    page = render(
        request, "web/signin.html", {"form": SignInForm(), "error": services.LOCKED_OUT, "next": reverse("web:home")}
    )
    page.status_code = 429
    page["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return page
