from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "leadloop.api"
    label = "api"
