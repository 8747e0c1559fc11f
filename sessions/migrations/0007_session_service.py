"""Sessions and recurring schedules name the service they deliver (CLINICAL.md
"Modalities"), which a bill is built from. Existing rows get their kind's plain therapy:
group -> group therapy, individual -> individual therapy, family -> family therapy.

New rows inserted without one get the same default from a trigger: Model.save() sets it
(sessions.models), but bulk_create and raw SQL skip save(), and an empty service would
reach a bill. The check constraints refuse any value that is not a known service."""

from django.db import migrations, models
from django.db.models import Q

SERVICES = [
    ("group_therapy", "Group therapy"),
    ("individual_therapy", "Individual therapy"),
    ("family_therapy", "Family therapy"),
    ("psychoeducation", "Psychoeducation"),
    ("medication_management", "Medication management"),
    ("skills_group", "Skills group (CBT, DBT)"),
    ("holistic", "Holistic (art, mindfulness, yoga)"),
]
SERVICE_BY_KIND = {"group": "group_therapy", "individual": "individual_therapy", "family": "family_therapy"}


# The one place outside sessions.models that knows the defaults (keep them in step).
TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION therapy_sessions_service_from_kind() RETURNS trigger AS $$
BEGIN
    IF NEW.service = '' THEN
        NEW.service := CASE NEW.kind
            WHEN 'group' THEN 'group_therapy'
            WHEN 'individual' THEN 'individual_therapy'
            WHEN 'family' THEN 'family_therapy'
            ELSE ''
        END;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER session_service_from_kind BEFORE INSERT ON therapy_sessions_session
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_service_from_kind();
CREATE TRIGGER schedule_service_from_kind BEFORE INSERT ON therapy_sessions_recurringschedule
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_service_from_kind();
"""
REVERSE_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS session_service_from_kind ON therapy_sessions_session;
DROP TRIGGER IF EXISTS schedule_service_from_kind ON therapy_sessions_recurringschedule;
DROP FUNCTION IF EXISTS therapy_sessions_service_from_kind();
"""


def services_from_kind(apps, schema_editor):
    for model_name in ("Session", "RecurringSchedule"):
        model = apps.get_model("therapy_sessions", model_name)
        for kind, service in SERVICE_BY_KIND.items():
            model.objects.filter(kind=kind, service="").update(service=service)


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0006_chat_seq_lives_in_redis"),
    ]

    operations = [
        migrations.AddField(
            model_name="recurringschedule",
            name="service",
            field=models.CharField(choices=SERVICES, default="", max_length=32),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="session",
            name="service",
            field=models.CharField(choices=SERVICES, default="", max_length=32),
            preserve_default=False,
        ),
        migrations.RunPython(services_from_kind, migrations.RunPython.noop),
        migrations.RunSQL(TRIGGER_SQL, REVERSE_TRIGGER_SQL),
        migrations.AddConstraint(
            model_name="recurringschedule",
            constraint=models.CheckConstraint(
                condition=Q(service__in=[value for value, _ in SERVICES]), name="schedule_service_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="session",
            constraint=models.CheckConstraint(
                condition=Q(service__in=[value for value, _ in SERVICES]), name="session_service_known"
            ),
        ),
    ]
