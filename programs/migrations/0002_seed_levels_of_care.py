"""Levels of care from CLINICAL.md, as data admins can edit later.

OP (ASAM 1): under 9 h a week for adults, under 6 h for adolescents; typically 1-2 h.
IOP (ASAM 2.1): 9-19 h adults, 6-19 h adolescents. PHP (ASAM 2.5): 20 h or more.
"""

from django.db import migrations

LEVELS = [
    # code, name, asam, adult min, adult max, adolescent min, adolescent max, rank
    ("OP", "Outpatient", "1", 60, 539, 60, 359, 1),
    ("IOP", "Intensive outpatient", "2.1", 540, 1140, 360, 1140, 2),
    ("PHP", "Partial hospitalization", "2.5", 1200, None, 1200, None, 3),
]


def seed(apps, schema_editor):
    LevelOfCare = apps.get_model("programs", "LevelOfCare")
    for code, name, asam, a_min, a_max, t_min, t_max, rank in LEVELS:
        LevelOfCare.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "asam_level": asam,
                "adult_min_weekly_minutes": a_min,
                "adult_max_weekly_minutes": a_max,
                "adolescent_min_weekly_minutes": t_min,
                "adolescent_max_weekly_minutes": t_max,
                "rank": rank,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
