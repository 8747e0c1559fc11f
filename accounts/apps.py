from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the sign-in audit receivers)
        from server import client_address  # noqa: F401  (registers its deploy check)
        from server import placeholder_secrets  # noqa: F401  (registers its deploy check)
