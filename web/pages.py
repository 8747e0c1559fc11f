"""The clinician's, guardian's and admin's pages (issue 24, items 5-7), and the
questionnaire pages (issue 26): a participant's due questionnaires, the staff's open
alerts. Like the other pages they are shells whose scripts read and write through the API, which decides what
each person may see; a page for another role answers 403 instead of an empty shell."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.models import Role

View = Callable[..., HttpResponse]

# Home page by role; participants (and anyone else) get web/home.html.
HOME_TEMPLATES: dict[str, str] = {
    Role.CLINICIAN: "web/home_clinician.html",
    Role.GUARDIAN: "web/home_guardian.html",
    Role.ADMIN: "web/home_admin.html",
}


def home_template(request: HttpRequest) -> str:
    return HOME_TEMPLATES.get(str(getattr(request.user, "role", "")), "web/home.html")


def roles_only(*roles: str) -> Callable[[View], View]:
    """Signed-out visitors go to the sign-in page; other roles get a 403 page."""

    who = " and ".join(f"{role}s" for role in roles)

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            if getattr(request.user, "role", None) not in roles:
                return render(request, "web/not_for_you.html", {"roles": who}, status=403)
            return view(request, *args, **kwargs)

        return login_required(ensure_csrf_cookie(wrapper))

    return decorate


@roles_only(Role.CLINICIAN, Role.ADMIN)
def program_hours(request: HttpRequest, program_id: int) -> HttpResponse:
    return render(request, "web/program_hours.html", {"program_id": program_id})


@roles_only(Role.CLINICIAN, Role.ADMIN)
def session_attendance(request: HttpRequest, session_id: int) -> HttpResponse:
    return render(request, "web/session_attendance.html", {"session_id": session_id})


@roles_only(Role.GUARDIAN)
def family(request: HttpRequest) -> HttpResponse:
    return render(request, "web/family.html")


@roles_only(Role.PARTICIPANT)
def questionnaires(request: HttpRequest) -> HttpResponse:
    return render(request, "web/questionnaires.html")


@roles_only(Role.CLINICIAN, Role.ADMIN)
def alerts(request: HttpRequest) -> HttpResponse:
    return render(request, "web/alerts.html", {"escalate_minutes": settings.CLINICAL_ALERT_ESCALATE_MINUTES})
