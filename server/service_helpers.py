"""Checks several apps' services share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError


def check_editable(changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse an update that names a field the caller may not change."""
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed."))
