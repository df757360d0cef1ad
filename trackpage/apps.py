from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackpageConfig(AppConfig):
    name = "trackpage"
    verbose_name = _("Tracking page")

    def ready(self) -> None:
        from postpurchase import outbox
        from trackpage import handlers

        outbox.register(
            "order.created", "trackpage.conversion_attribute", handlers.on_order_created
        )
        for event_type in handlers.RENDER_AHEAD_ON:
            outbox.register(event_type, "trackpage.page_render_ahead", handlers.page_render_ahead)
