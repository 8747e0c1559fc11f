# Payer rules as data (issue 21, item 6): the table, and a program's rule for its billing export.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0004_forecast_schedule'),
    ]

    operations = [
        migrations.CreateModel(
            name='PayerRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.CharField(max_length=16, unique=True)),
                ('name', models.CharField(max_length=120)),
                ('billed_per', models.CharField(choices=[('day', 'Day (per diem)'), ('week', 'Week')], help_text='What one claim line stands for: a day or a week.', max_length=8)),
                ('daily_min_minutes', models.PositiveIntegerField(blank=True, null=True)),
                ('daily_min_from_program', models.BooleanField(default=False)),
                ('min_qualifying_days_per_week', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('weekly_min_minutes', models.PositiveIntegerField(blank=True, null=True)),
                ('weekly_max_minutes', models.PositiveIntegerField(blank=True, null=True)),
            ],
            options={
                'ordering': ['code'],
                'constraints': [models.CheckConstraint(condition=models.Q(('daily_min_minutes__isnull', True), ('daily_min_from_program', False), _connector='OR'), name='payer_rule_one_daily_minimum'), models.CheckConstraint(condition=models.Q(('daily_min_minutes__isnull', True), models.Q(('daily_min_minutes__gte', 1), ('daily_min_minutes__lte', 1440)), _connector='OR'), name='payer_rule_daily_min_in_a_day'), models.CheckConstraint(condition=models.Q(('min_qualifying_days_per_week__isnull', True), models.Q(('min_qualifying_days_per_week__gte', 1), ('min_qualifying_days_per_week__lte', 7)), _connector='OR'), name='payer_rule_days_1_to_7'), models.CheckConstraint(condition=models.Q(('weekly_max_minutes__isnull', True), ('weekly_min_minutes__isnull', True), ('weekly_max_minutes__gte', models.F('weekly_min_minutes')), _connector='OR'), name='payer_rule_weekly_max_not_below_min')],
            },
        ),
        migrations.AddField(
            model_name='program',
            name='payer_rule',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='programs', to='programs.payerrule'),
        ),
    ]
