from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "leadloop.sla"
    label = "sla"
    verbose_name = "SLAs"
