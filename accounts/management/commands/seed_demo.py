from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from server.demo import DemoRefused, run_seed_steps


class Command(BaseCommand):
    help = "Create the demo personas and data (CONTRACT.md). Safe to run again: adds nothing new."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                run_seed_steps()
        except DemoRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            "Demo data ready. Logins: dana, theo (clinicians), ava, sam (participants), "
            f"pat (guardian of ava), ada (admin); password: {settings.DEMO_PASSWORD}"
        )
