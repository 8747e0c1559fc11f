"""PHQ-9 (adults), PHQ-A (adolescents 11-17) and GAD-7, as data. Adding an instrument is a
migration like this one: items, answer labels, severity bands, the risk item if any."""

from __future__ import annotations

from typing import Any

from django.db import migrations

FREQUENCY = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
PHQ_BANDS = [[0, "minimal"], [5, "mild"], [10, "moderate"], [15, "moderately_severe"], [20, "severe"]]
GAD_BANDS = [[0, "minimal"], [5, "mild"], [10, "moderate"], [15, "severe"]]

INSTRUMENTS: list[dict[str, Any]] = [
    {
        "code": "phq9",
        "name": "PHQ-9",
        "age_band": "adult",
        "prompt": "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
        "items": [
            "Little interest or pleasure in doing things",
            "Feeling down, depressed, or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
            "Trouble concentrating on things, such as reading the newspaper or watching television",
            "Moving or speaking so slowly that other people could have noticed; or the opposite, being so "
            "fidgety or restless that you have been moving around a lot more than usual",
            "Thoughts that you would be better off dead or of hurting yourself in some way",
        ],
        "answer_labels": FREQUENCY,
        "severity_bands": PHQ_BANDS,
        "risk_item": 9,
        "remission_below": 5,
    },
    {
        "code": "phqa",
        "name": "PHQ-A",
        "age_band": "adolescent",
        "prompt": "How often have you been bothered by each of the following symptoms during the past two weeks?",
        "items": [
            "Feeling down, depressed, irritable, or hopeless",
            "Little interest or pleasure in doing things",
            "Trouble falling asleep, staying asleep, or sleeping too much",
            "Poor appetite, weight loss, or overeating",
            "Feeling tired, or having little energy",
            "Feeling bad about yourself, or feeling that you are a failure, or that you have let yourself "
            "or your family down",
            "Trouble concentrating on things like school work, reading, or watching TV",
            "Moving or speaking so slowly that other people could have noticed; or the opposite, being so "
            "fidgety or restless that you were moving around a lot more than usual",
            "Thoughts that you would be better off dead, or of hurting yourself in some way",
        ],
        "answer_labels": FREQUENCY,
        "severity_bands": PHQ_BANDS,
        "risk_item": 9,
        "remission_below": 5,
    },
    {
        "code": "gad7",
        "name": "GAD-7",
        "age_band": "",
        "prompt": "Over the last 2 weeks, how often have you been bothered by the following problems?",
        "items": [
            "Feeling nervous, anxious, or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid, as if something awful might happen",
        ],
        "answer_labels": FREQUENCY,
        "severity_bands": GAD_BANDS,
        "risk_item": None,
        "remission_below": None,
    },
]


def seed(apps: Any, schema_editor: Any) -> None:
    Instrument = apps.get_model("measures", "Instrument")
    for fields in INSTRUMENTS:
        Instrument.objects.update_or_create(code=fields["code"], defaults=fields)


def unseed(apps: Any, schema_editor: Any) -> None:
    apps.get_model("measures", "Instrument").objects.filter(code__in=[i["code"] for i in INSTRUMENTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("measures", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
