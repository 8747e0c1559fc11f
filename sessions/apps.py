from django.apps import AppConfig


class TherapySessionsConfig(AppConfig):
    # "sessions" is django.contrib.sessions' label; this app is the therapy sessions.
    name = "sessions"
    label = "therapy_sessions"
    verbose_name = "Therapy sessions"
