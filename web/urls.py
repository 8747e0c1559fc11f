from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.sign_in, name="sign-in"),
    path("signin/code/", views.second_factor, name="second-factor"),
    path("signout/", views.sign_out, name="sign-out"),
    path("sessions/<int:session_id>/", views.room, name="room"),
]
