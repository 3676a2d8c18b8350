from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "leadloop.web"
    label = "web"
