"""The Django admin asks staff for their second factor (django-otp's OTPAdminSite).

Sign-in takes the password and a code from the authenticator (or a recovery code, by
choosing the recovery-code device). A staff member without a confirmed device cannot use
the admin until they set one up through the API (POST /api/v1/auth/totp/); only in demo
mode (STAFF_REQUIRE_2FA=0, allowed only with DEMO=1) may one without a device sign in
with the password alone.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor


class StaffAdminAuthenticationForm(OTPAdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        self.cleaned_data = AdminAuthenticationForm.clean(self)
        user = self.get_user()
        if user is not None and two_factor.second_factor_needed(user):
            if not two_factor.has_confirmed_device(user):
                raise forms.ValidationError(
                    "Set up your authenticator app first (POST /api/v1/auth/totp/), then sign in with its code.",
                    code="otp_enrolment_required",
                )
            try:
                self.clean_otp(user)
            except forms.ValidationError as exc:
                if exc.code == "invalid_token":
                    # A wrong code is a failed login for django-axes' lock-out, as in the API.
                    user_login_failed.send(
                        sender=__name__, credentials={"username": user.get_username()}, request=self.request
                    )
                raise
        return self.cleaned_data


class StaffAdminSite(OTPAdminSite):
    login_form = StaffAdminAuthenticationForm

    def __init__(self, name: str = "admin") -> None:
        # The stock instance name, so admin URLs reverse as "admin:..." everywhere.
        super().__init__(name)

    def has_permission(self, request: HttpRequest) -> bool:
        if not super(OTPAdminSite, self).has_permission(request):
            return False
        user: Any = request.user
        return bool(user.is_verified()) or not two_factor.second_factor_needed(user)


class SecondFactorDeviceAdmin(admin.ModelAdmin):
    """In place of django-otp's device admins, which show secrets and recovery codes and let
    an admin add a device (a code) for someone else, unaudited: here devices are listed, and
    deleting one resets that person's second factor through the audited service."""

    list_display = ("user", "name", "confirmed")
    list_filter = ("confirmed",)
    fields = ("user", "name", "confirmed")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        two_factor.reset_second_factor(by=request.user, user=obj.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for user in {device.user for device in queryset.select_related("user")}:
            two_factor.reset_second_factor(by=request.user, user=user)  # type: ignore[arg-type]


def register_second_factor_admins(site: admin.AdminSite | None = None) -> None:
    site = site or admin.site
    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, SecondFactorDeviceAdmin)
