from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    name = "benefits"
    verbose_name = _("Benefits and partners")

    def ready(self) -> None:
        from benefits import personal_data

        personal_data.register()
