"""Small pieces the apps' DRF views share."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from accounts.models import Role, User


def request_user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class IsStaffRole(permissions.BasePermission):
    """Clinicians and program admins (participants and guardians are refused)."""

    message = "Only clinicians and program admins can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role in (Role.CLINICIAN, Role.ADMIN))


class IsProgramAdmin(permissions.BasePermission):
    message = "Only program admins can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.ADMIN)


def reject_unknown_fields(serializer_fields: Any, data: Any) -> dict[str, str]:
    """Field errors for keys the serializer does not accept (PATCH must not ignore typos)."""
    if not isinstance(data, dict):
        return {}
    return dict.fromkeys(sorted(set(data) - set(serializer_fields)), "This field cannot be changed.")


def validated_body(serializer_class: type[serializers.Serializer], request: Request, partial: bool = False) -> Any:
    """Parse and validate the request body; a partial update also refuses unknown keys."""
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    if partial:
        unknown = reject_unknown_fields(body.fields, request.data)
        if unknown:
            raise ValidationError(unknown)
    return body.validated_data


def user_or_refusal(pk: int, *, field: str, refusal: str) -> User:
    """The account with this id. An id with none gets the 400 the service gives an id the
    caller may not see (``refusal``), so the answer never tells whether an account exists."""
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise ValidationError({field: [refusal]})
    return user


def users_or_refusal(pks: list[int], *, field: str, refusal: str) -> list[User]:
    """The accounts with these ids, in order (one query); any id with none is refused."""
    found = User.objects.in_bulk(pks)
    if any(pk not in found for pk in pks):
        raise ValidationError({field: [refusal]})
    return [found[pk] for pk in pks]


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of coercing them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
