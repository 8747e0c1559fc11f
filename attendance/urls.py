from django.urls import path
from rest_framework.routers import SimpleRouter

from attendance import api

router = SimpleRouter()
router.register("attendance", api.AttendanceRecordViewSet, basename="attendance-record")

urlpatterns = [
    path("sessions/<int:pk>/attendance/", api.SessionAttendanceView.as_view(), name="session-attendance"),
    path("participants/<int:pk>/attendance/", api.ParticipantAttendanceView.as_view(), name="participant-attendance"),
    *router.urls,
]
