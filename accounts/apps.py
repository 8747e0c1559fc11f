from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the sign-in audit receivers)
        from server import client_address, placeholder_secrets  # noqa: F401  (register their deploy checks)
