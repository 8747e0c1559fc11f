"""Django admin for accounts. User changes made here are audited like API changes;
accounts are deactivated rather than deleted. Guardian links and consents are shown only:
they change through the API, whose services enforce the consent rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.http import HttpRequest

from accounts.models import Consent, GuardianLink, User
from audit import services as audit
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
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            changed = list(form.changed_data) if form is not None else []
            fields = sorted({"password" if "password" in name else name for name in changed})
            audit.record(
                actor=request.user,
                action="user.update" if change else "user.create",
                target=obj,
                data={"fields": fields, "via": "admin"},
            )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GuardianLink)
class GuardianLinkAdmin(ReadOnlyAdmin):
    list_display = ("guardian", "adolescent", "relationship", "created_at", "revoked_at")


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("link", "scopes", "given_at", "revoked_at")
