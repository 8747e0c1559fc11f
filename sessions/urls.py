from django.urls import path
from rest_framework.routers import SimpleRouter

from sessions import api

router = SimpleRouter()
router.register("sessions", api.SessionViewSet, basename="session")
router.register("schedules", api.ScheduleViewSet, basename="schedule")

urlpatterns = [
    path("calendar-feed/", api.CalendarFeedView.as_view(), name="calendar-feed"),
    *router.urls,
]
