from django.urls import path
from rest_framework.routers import SimpleRouter

from notifications import api

router = SimpleRouter()
router.register("notifications/failed-deliveries", api.FailedDeliveryViewSet, basename="failed-delivery")
router.register("notifications", api.NotificationViewSet, basename="notification")

urlpatterns = [
    path("notifications/preferences/", api.PreferencesView.as_view(), name="notification-preferences"),
    *router.urls,
]
