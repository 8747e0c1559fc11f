"""Payer rules from CLINICAL.md, as data admins can edit later (programs.payer_rules
defines how a day and a week are checked against them).

- H0015 (substance-use IOP, per diem): at least 3 hours a day on at least 3 days a week.
- S9480 (psychiatric IOP, per diem; commercial and Medicaid payers): a day meets at the
  program's own day length (minutes_per_day_target), as payers' per-day minimums differ
  (one Virginia Medicaid rule: adults 3 h, adolescents 2 h a service day).
- Medicare IOP (since 2024, condition code 92, paid per day): 9 to 19 hours a week.
"""

from django.db import migrations

RULES = [
    # code, name, billed per, daily min, daily min from program, min days a week, weekly min, weekly max
    ("H0015", "Substance-use intensive outpatient (HCPCS H0015)", "day", 180, False, 3, None, None),
    ("S9480", "Psychiatric intensive outpatient (HCPCS S9480)", "day", None, True, None, None, None),
    ("MEDICARE_IOP", "Medicare intensive outpatient (condition code 92)", "day", None, False, None, 540, 1140),
]


def seed(apps, schema_editor):
    PayerRule = apps.get_model("programs", "PayerRule")
    for code, name, billed_per, daily_min, from_program, days, weekly_min, weekly_max in RULES:
        PayerRule.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "billed_per": billed_per,
                "daily_min_minutes": daily_min,
                "daily_min_from_program": from_program,
                "min_qualifying_days_per_week": days,
                "weekly_min_minutes": weekly_min,
                "weekly_max_minutes": weekly_max,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("programs", "0005_payer_rules")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
