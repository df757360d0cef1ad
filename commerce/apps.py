from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"
    verbose_name = "Store data"

    def ready(self) -> None:
        from commerce import handlers
        from postpurchase import outbox

        for event_type in handlers.PURCHASE_STATS_ON:
            outbox.register(
                event_type,
                "commerce.purchase_stats_sync",
                handlers.purchase_stats_sync,
                batch_fn=handlers.purchase_stats_sync_many,
            )
