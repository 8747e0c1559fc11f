"""Scoring a questionnaire from its instrument's data: the score is the sum of the answers,
the severity the highest band whose lower bound the score reaches, and risk an answer
above 0 on the instrument's risk item. Pure functions: no database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Score:
    score: int
    severity: str
    risk: bool


def answer_errors(*, answers: Any, item_count: int, max_answer: int) -> list[str]:
    """Why these answers cannot be scored (empty when they can)."""
    if not isinstance(answers, list) or not all(type(value) is int for value in answers):
        return ["Answers must be a list of whole numbers."]
    if len(answers) != item_count:
        return [f"This questionnaire has {item_count} items: answer each one ({len(answers)} given)."]
    if any(not 0 <= value <= max_answer for value in answers):
        return [f"Each answer must be from 0 to {max_answer}."]
    return []


def severity_for(score: int, bands: Sequence[Sequence[Any]]) -> str:
    """``bands``: [lowest score, label] pairs in ascending order, the first starting at 0."""
    label = str(bands[0][1])
    for lowest, name in bands:
        if score >= int(lowest):
            label = str(name)
    return label


def score_answers(*, answers: Sequence[int], bands: Sequence[Sequence[Any]], risk_item: int | None) -> Score:
    total = sum(answers)
    risk = risk_item is not None and answers[risk_item - 1] > 0
    return Score(score=total, severity=severity_for(total, bands), risk=risk)


def percent_change(first: int, latest: int) -> float | None:
    """Change from the first score, in percent of it (None when the first was 0)."""
    if first == 0:
        return None
    return round((latest - first) * 100 / first, 1)
