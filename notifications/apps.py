from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Anymail's tracking signal is the ESP adapter's output: connect our receiver.
        from notifications import esp_events

        esp_events.connect()
