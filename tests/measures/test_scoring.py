"""Scoring and bands of every seeded instrument, over all answer vectors (hypothesis):
the score is the sum and the severity matches CLINICAL.md's table at each boundary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from measures.models import Instrument
from measures.scoring import answer_errors, score_answers
from tests.measures.support import seed_instruments

pytestmark = pytest.mark.django_db

PHQ_TABLE = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 19, "moderately_severe"), (20, 27, "severe")]
GAD_TABLE = [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]
TABLES = {"phq9": (9, PHQ_TABLE, 9), "phqa": (9, PHQ_TABLE, 9), "gad7": (7, GAD_TABLE, None)}


def band_in_table(table: list[tuple[int, int, str]], score: int) -> str:
    (label,) = [label for low, high, label in table if low <= score <= high]
    return label


@pytest.mark.parametrize("code", sorted(TABLES))
def test_every_answer_vector_scores_its_sum_and_band(code: str) -> None:
    seed_instruments()
    instrument = Instrument.objects.get(code=code)
    items, table, risk_item = TABLES[code]
    assert len(instrument.items) == items and instrument.max_answer == 3
    assert instrument.risk_item == risk_item

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.integers(0, 3), min_size=items, max_size=items))
    def check(answers: list[int]) -> None:
        assert answer_errors(answers=answers, item_count=items, max_answer=3) == []
        result = score_answers(answers=answers, bands=instrument.severity_bands, risk_item=instrument.risk_item)
        assert result.score == sum(answers)
        assert result.severity == band_in_table(table, result.score)
        assert result.risk == (risk_item is not None and answers[risk_item - 1] > 0)

    check()


@pytest.mark.parametrize("code", sorted(TABLES))
def test_each_band_boundary(code: str) -> None:
    seed_instruments()
    instrument = Instrument.objects.get(code=code)
    items, table, _ = TABLES[code]
    for low, high, label in table:
        for score in (low, high):
            answers = [3] * (score // 3) + ([score % 3] if score % 3 else [])
            answers += [0] * (items - len(answers))
            result = score_answers(answers=answers, bands=instrument.severity_bands, risk_item=None)
            assert (result.score, result.severity) == (score, label)


@given(
    st.one_of(
        st.lists(st.integers(0, 3), max_size=8),
        st.lists(st.integers(0, 3), min_size=10, max_size=12),
        st.lists(st.integers(), min_size=9, max_size=9).filter(lambda a: any(not 0 <= v <= 3 for v in a)),
        st.lists(st.one_of(st.booleans(), st.text(max_size=2), st.floats()), min_size=9, max_size=9),
        st.text(max_size=5),
        st.none(),
    )
)
def test_incomplete_out_of_scale_or_mistyped_answers_are_refused(answers: object) -> None:
    assert answer_errors(answers=answers, item_count=9, max_answer=3) != []
