from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "leadloop.content"
    label = "content"
