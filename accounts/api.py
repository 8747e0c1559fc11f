"""HTTP endpoints for auth, the caller's profile, realtime tickets, users, guardian links
and consents. Each view parses, calls one service or selector, and renders."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, PermissionDenied, Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services, two_factor
from accounts.models import Consent, GuardianLink, User
from accounts.serializers import (
    ConsentCreateSerializer,
    ConsentSerializer,
    GuardianLinkCreateSerializer,
    GuardianLinkSerializer,
    MeSerializer,
    RecoveryCodesSerializer,
    TicketResponseSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    TotpConfirmRequestSerializer,
    TotpDisableRequestSerializer,
    TotpEnrolmentSerializer,
    TotpStartRequestSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from server.api_helpers import IsProgramAdmin, request_user
from server.client_address import AnonRateThrottle, UserRateThrottle
from server.errors import NamedError, error_body
from server.openapi import error_response


def login_locked_out_response(request: HttpRequest, response: Any = None, credentials: Any = None) -> JsonResponse:
    """django-axes' lockout response: the contract's 429 with Retry-After."""
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    locked = JsonResponse(
        error_body("rate_limited", "Too many failed logins. Try again later."),
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    locked["Retry-After"] = str(retry_after)
    return locked


class LoginThrottle(AnonRateThrottle):
    """Requests to the login endpoint per client address, whatever their outcome (failures
    are limited separately and more tightly by django-axes)."""

    scope = "login"


class OtpRequired(NamedError, AuthenticationFailed):
    default_detail = "Enter the code from your authenticator app (or a recovery code) as `otp`."
    default_code = "otp_required"


class OtpInvalid(NamedError, AuthenticationFailed):
    default_detail = "That code is not right."
    default_code = "otp_invalid"


class OtpEnrolmentRequired(NamedError, PermissionDenied):
    default_detail = (
        "Staff accounts need an authenticator app: set one up with POST /api/v1/auth/totp/ "
        "(with your username and password), then sign in with its code."
    )
    default_code = "otp_enrolment_required"


class TokenLimitReached(NamedError, PermissionDenied):
    default_detail = (
        "Maximum amount of tokens allowed per user exceeded: this account is signed in on too many devices. "
        "Sign out on one (POST /api/v1/auth/logout/) or wait for its sign-in to expire."
    )
    default_code = "token_limit_reached"


def _password_user(request: Request, username: str, password: str) -> User:
    try:
        return services.authenticate_password(request=request._request, username=username, password=password)
    except services.LoginLockedOut as exc:
        raise Throttled(
            wait=settings.AXES_COOLOFF_TIME.total_seconds(), detail="Too many failed logins. Try again later."
        ) from exc
    except services.InvalidCredentials as exc:
        raise AuthenticationFailed("Wrong username or password.") from exc


class TokenView(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [LoginThrottle]

    def get_authenticate_header(self, request: Request) -> str:
        # Wrong credentials are a 401 (DRF would say 403 for a view without authenticators).
        return 'Bearer realm="api"'

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            401: error_response(401, "Wrong username or password, or the second factor missing or wrong."),
            403: error_response(
                403,
                "A staff account without an authenticator (enrol one first), or an account already "
                "holding API_TOKEN_LIMIT_PER_USER unexpired tokens (sign out elsewhere first).",
            ),
        },
        auth=[],
        description=(
            "Staff (clinicians, admins) with an authenticator also send `otp`: without it the answer is "
            "401 `otp_required`; a wrong code is 401 `otp_invalid` and counts as a failed login. Staff "
            "without one get 403 `otp_enrolment_required` and set one up at /api/v1/auth/totp/ first. An "
            "account already holding API_TOKEN_LIMIT_PER_USER unexpired tokens gets 403 `token_limit_reached` "
            "and nothing is issued: sign out elsewhere first."
        ),
    )
    def post(self, request: Request) -> Response:
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            issued = services.issue_token(request=request._request, **body.validated_data)
        except services.LoginLockedOut as exc:
            raise Throttled(
                wait=settings.AXES_COOLOFF_TIME.total_seconds(), detail="Too many failed logins. Try again later."
            ) from exc
        except services.InvalidCredentials as exc:
            raise AuthenticationFailed("Wrong username or password.") from exc
        except two_factor.SecondFactorRequired as exc:
            raise OtpRequired() from exc
        except two_factor.SecondFactorInvalid as exc:
            raise OtpInvalid() from exc
        except two_factor.SecondFactorEnrolmentRequired as exc:
            raise OtpEnrolmentRequired() from exc
        except services.TokenLimitReached as exc:
            raise TokenLimitReached() from exc
        return Response(TokenResponseSerializer(issued).data)


class TotpEnrolmentView(APIView):
    """Staff set up an authenticator app: start here, then confirm with a code from it.
    Signed in with a bearer token, or (a staff member refused a token until they enrol)
    with their username and password in the body, checked and counted like a sign-in."""

    # Either credential will do; enrolling_user refuses a request with neither.
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginThrottle, UserRateThrottle]

    def enrolling_user(self, request: Request, body: dict[str, Any]) -> User:
        if isinstance(request.user, User):
            return request.user
        if "username" not in body:
            raise NotAuthenticated()
        return _password_user(request, body["username"], body["password"])

    @extend_schema(
        request=TotpStartRequestSerializer,
        responses={201: TotpEnrolmentSerializer, 403: error_response(403, "Not a staff account.")},
    )
    def post(self, request: Request) -> Response:
        body = TotpStartRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrolment = two_factor.start_totp_enrolment(user=self.enrolling_user(request, body.validated_data))
        return Response(TotpEnrolmentSerializer(enrolment).data, status=status.HTTP_201_CREATED)


class TotpConfirmView(TotpEnrolmentView):
    @extend_schema(
        request=TotpConfirmRequestSerializer,
        responses={200: RecoveryCodesSerializer, 403: error_response(403, "Not a staff account.")},
    )
    def post(self, request: Request) -> Response:
        body = TotpConfirmRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = self.enrolling_user(request, body.validated_data)
        codes = two_factor.confirm_totp_enrolment(user=user, code=body.validated_data["code"])
        return Response(RecoveryCodesSerializer({"recovery_codes": codes}).data)


class TotpDisableView(APIView):
    @extend_schema(request=TotpDisableRequestSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        body = TotpDisableRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        two_factor.disable_totp(user=request_user(request), code=body.validated_data["code"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutView(APIView):
    # Revokes the bearer token it is called with; the web client's session cookie signs
    # out at /signout/ (web/views.py), so a cookie alone is not a credential here.
    authentication_classes = [TokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        services.revoke_token(user=request_user(request), token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request_user(request)).data)


class RealtimeTicketView(APIView):
    @extend_schema(request=None, responses={200: TicketResponseSerializer})
    def post(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, AuthToken) else None
        ticket = services.issue_realtime_ticket(user=request_user(request), token=token)
        return Response(TicketResponseSerializer(ticket).data)


class UserViewSet(viewsets.GenericViewSet):
    """Program admins manage accounts. Accounts are deactivated, never deleted (the audit
    log and clinical records refer to them)."""

    permission_classes = [permissions.IsAuthenticated, IsProgramAdmin]
    serializer_class = UserSerializer
    queryset = User.objects.order_by("id")

    @extend_schema(responses=UserSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request: Request) -> Response:
        body = UserCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.create_user(by=request_user(request), **body.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(UserSerializer(self.get_object()).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        user = self.get_object()
        body = UserUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        password = changes.pop("password", None)
        updated = services.update_user(by=request_user(request), user=user, changes=changes, password=password)
        return Response(UserSerializer(updated).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        user = services.deactivate_user(by=request_user(request), user=self.get_object())
        return Response(UserSerializer(user).data)

    @extend_schema(request=None, responses=UserSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str) -> Response:
        user = services.reactivate_user(by=request_user(request), user=self.get_object())
        return Response(UserSerializer(user).data)


class GuardianLinkViewSet(viewsets.GenericViewSet):
    """Admins link guardians to adolescents; guardians and adolescents see their own links."""

    serializer_class = GuardianLinkSerializer
    queryset = GuardianLink.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> Any:
        return selectors.guardian_links_visible_to(request_user(self.request))

    @extend_schema(responses=GuardianLinkSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(GuardianLinkSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(GuardianLinkSerializer(self.get_object()).data)

    @extend_schema(request=GuardianLinkCreateSerializer, responses={201: GuardianLinkSerializer})
    def create(self, request: Request) -> Response:
        services.ensure_admin(request_user(request))
        body = GuardianLinkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        link = services.link_guardian(
            by=request_user(request),
            guardian=get_object_or_404(User, pk=data["guardian"]),
            adolescent=get_object_or_404(User, pk=data["adolescent"]),
            relationship=data["relationship"],
        )
        return Response(GuardianLinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=GuardianLinkSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        link = services.revoke_guardian_link(by=request_user(request), link=self.get_object())
        return Response(GuardianLinkSerializer(link).data)


class ConsentViewSet(viewsets.GenericViewSet):
    """An adolescent gives or revokes consent for a linked guardian to see their schedule,
    attendance or hours."""

    serializer_class = ConsentSerializer
    queryset = Consent.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> Any:
        return selectors.consents_visible_to(request_user(self.request))

    @extend_schema(responses=ConsentSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ConsentSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ConsentSerializer(self.get_object()).data)

    @extend_schema(request=ConsentCreateSerializer, responses={201: ConsentSerializer})
    def create(self, request: Request) -> Response:
        body = ConsentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        link = get_object_or_404(
            selectors.guardian_links_visible_to(request_user(request)), pk=body.validated_data["link"]
        )
        consent = services.give_consent(by=request_user(request), link=link, scopes=body.validated_data["scopes"])
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ConsentSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        consent = services.revoke_consent(by=request_user(request), consent=self.get_object())
        return Response(ConsentSerializer(consent).data)
