"""Django admin for accounts. User changes made here go through the account services as
API changes do: audited, and a new password, a role change or a deactivation ends the
person's tokens, tickets and sockets. Accounts are deactivated rather than deleted.
Guardian links and consents are shown only: they change through the API, whose services
enforce the consent rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from accounts import services
from accounts.models import Consent, GuardianLink, User
from server.admin_helpers import ReadOnlyAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "role", "first_name", "last_name", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        ("Program", {"fields": ("role", "birth_date", "time_zone")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "role", "birth_date", "password1", "password2")}),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        services.save_user_from_admin(
            by=request.user,  # type: ignore[arg-type]  # the admin is signed in
            user=obj,
            changed_fields=list(form.changed_data) if form is not None else [],
            created=not change,
        )

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """Django's password form validates and saves the new password itself; in the same
        transaction the service then ends what the old one opened and audits the change."""
        with transaction.atomic():
            user = self.get_object(request, unquote(id))  # None for an unknown id: Django's 404
            response = super().user_change_password(request, id, form_url)
            if user is not None:
                before = user.password
                user.refresh_from_db(fields=["password"])
                if user.password != before:
                    services.record_password_change(by=request.user, user=user, via="admin")  # type: ignore[arg-type]
        return response

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GuardianLink)
class GuardianLinkAdmin(ReadOnlyAdmin):
    list_display = ("guardian", "adolescent", "relationship", "created_at", "revoked_at")


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("link", "scopes", "given_at", "revoked_at")
