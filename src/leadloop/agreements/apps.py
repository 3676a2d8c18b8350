from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    name = "leadloop.agreements"
    label = "agreements"
