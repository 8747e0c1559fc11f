from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from server import errors, health, metrics
from sessions import api as sessions_api

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("programs.urls")),
    path("", include("groups.urls")),
    path("", include("sessions.urls")),
    path("", include("notifications.urls")),
    path("", include("attendance.urls")),
    path("", include("bookings.urls")),
    path("", include("measures.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus, for a scraper with METRICS_TOKEN (404 without one configured).
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(api_v1)),
    path("calendar/<str:token>.ics", sessions_api.calendar_feed_ics, name="calendar-feed-ics"),
    path("admin/", admin.site.urls),
    # Unknown API paths get the JSON error envelope, with DEBUG on or off.
    re_path(r"^api/", errors.handler404),
    # The reference web client: sign-in, home, rooms.
    path("", include("web.urls")),
]

handler400 = "server.errors.handler400"
handler403 = "server.errors.handler403"
handler404 = "server.errors.handler404"
handler500 = "server.errors.handler500"
