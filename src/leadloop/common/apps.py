from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "leadloop.common"
    label = "common"
