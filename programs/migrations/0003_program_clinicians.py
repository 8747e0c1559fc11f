"""Programs name the clinicians who work in them (enrolment and primary clinicians are
limited to them). Existing programs get the clinicians who already work there: their
groups' facilitators and their active enrollments' primary clinicians."""

from django.conf import settings
from django.db import migrations, models


def staff_existing_programs(apps, schema_editor):
    Program = apps.get_model("programs", "Program")
    for program in Program.objects.all():
        people = set()
        for group in program.groups.all():
            people.add(group.lead_facilitator_id)
            people.update(group.co_facilitators.values_list("pk", flat=True))
        people.update(program.enrollments.filter(status="active").values_list("primary_clinician_id", flat=True))
        program.clinicians.add(*people)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0002_seed_levels_of_care"),
        ("groups", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="program",
            name="clinicians",
            field=models.ManyToManyField(blank=True, related_name="programs_staffed", to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(staff_existing_programs, migrations.RunPython.noop),
    ]
