from django.apps import AppConfig


class IrcloggerConfig(AppConfig):
    name = "irclogger"
    verbose_name = "IRC logs"

    def ready(self) -> None:
        from irclogger import checks  # noqa: F401  (registers the system checks)
