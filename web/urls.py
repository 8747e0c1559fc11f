from django.urls import path

from web import pages, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.sign_in, name="sign-in"),
    path("signin/code/", views.second_factor, name="second-factor"),
    path("signout/", views.sign_out, name="sign-out"),
    path("sessions/<int:session_id>/", views.room, name="room"),
    path("sessions/<int:session_id>/attendance/", pages.session_attendance, name="session-attendance"),
    path("programs/<int:program_id>/hours/", pages.program_hours, name="program-hours"),
    path("family/", pages.family, name="family"),
    path("questionnaires/", pages.questionnaires, name="questionnaires"),
    path("alerts/", pages.alerts, name="alerts"),
]
