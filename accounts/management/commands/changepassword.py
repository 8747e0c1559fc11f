"""``manage.py changepassword``, Django's command, with what a password change means here:
the person's tokens, tickets and sockets end and the change is audited. It replaces
django.contrib.auth's command because accounts comes before it in INSTALLED_APPS."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword
from django.db import transaction

from accounts import services
from accounts.models import User


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str:
        username = options["username"] or getpass.getuser()
        with transaction.atomic(using=options["database"]):
            user = User.objects.using(options["database"]).filter(username=username).first()
            message = super().handle(*args, **options)  # prompts, validates, saves
            if user is not None:
                services.record_password_change(by=None, user=user, via="changepassword")
        return str(message)
