"""Program admins set each program's questionnaire schedule here. Instruments are data
migrations (shown, not changed); answers, alerts and check-ins are not in the admin at all:
they are read through the API, which checks who may see them and audits every staff read."""

from __future__ import annotations

from django.contrib import admin

from measures.models import Instrument, InstrumentSchedule
from server.admin_helpers import ReadOnlyAdmin


@admin.register(Instrument)
class InstrumentAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "age_band", "risk_item")


@admin.register(InstrumentSchedule)
class InstrumentScheduleAdmin(admin.ModelAdmin):
    list_display = ("program", "instrument", "at_intake", "every_days")
    list_select_related = ("program", "instrument")
