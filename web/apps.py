from django.apps import AppConfig


class WebConfig(AppConfig):
    """The reference web client: Django templates and plain JavaScript modules, no build step."""

    name = "web"
    default_auto_field = "django.db.models.BigAutoField"
