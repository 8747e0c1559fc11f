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
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

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
