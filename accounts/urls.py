from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts import api

router = SimpleRouter(trailing_slash=True)
router.register("users", api.UserViewSet, basename="user")
router.register("guardian-links", api.GuardianLinkViewSet, basename="guardian-link")
router.register("consents", api.ConsentViewSet, basename="consent")

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/logout/", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/totp/", api.TotpEnrolmentView.as_view(), name="auth-totp"),
    path("auth/totp/confirm/", api.TotpConfirmView.as_view(), name="auth-totp-confirm"),
    path("auth/totp/disable/", api.TotpDisableView.as_view(), name="auth-totp-disable"),
    path("me/", api.MeView.as_view(), name="me"),
    path("realtime/ticket/", api.RealtimeTicketView.as_view(), name="realtime-ticket"),
    *router.urls,
]
