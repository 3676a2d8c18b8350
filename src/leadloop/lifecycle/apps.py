from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    name = "leadloop.lifecycle"
    label = "lifecycle"
