from django.apps import AppConfig


class CaptureConfig(AppConfig):
    name = "leadloop.capture"
    label = "capture"
