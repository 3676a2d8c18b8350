from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "leadloop.webhooks"
    label = "webhooks"
