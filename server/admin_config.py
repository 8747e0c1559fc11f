"""The Django admin's app config: the stock admin on the site from server/admin_site.py.
Kept apart from that module because app configs load before models can be imported."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "server.admin_site.StaffAdminSite"

    def ready(self) -> None:
        super().ready()  # imports every app's admin module, django-otp's among them
        from server.admin_site import register_second_factor_admins

        register_second_factor_admins()
