from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.models import AuditEntry
from audit.selectors import first_chain_break


class Command(BaseCommand):
    help = "Verify the audit log's hash chain and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        broken = first_chain_break()
        if broken is not None:
            raise CommandError(f"Audit chain broken at entry #{broken.seq}: {broken.reason}.")
        self.stdout.write(f"Audit chain intact: {AuditEntry.objects.count()} entries.")
