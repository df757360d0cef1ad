from django.apps import AppConfig


class EstimatesConfig(AppConfig):
    name = "estimates"
    verbose_name = "Delivery estimates"

    def ready(self) -> None:
        from estimates import handlers

        handlers.register_all()
