from django.apps import AppConfig


class LoopConfig(AppConfig):
    name = "leadloop.loop"
    label = "loop"
