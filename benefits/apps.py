from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenefitsConfig(AppConfig):
    name = "benefits"
    verbose_name = _("Benefits and partners")

    def ready(self) -> None:
        from benefits import hooks, personal_data, statistics
        from citizenpoints.signals import demo_loaded, home_requested

        personal_data.register()
        statistics.register()
        demo_loaded.connect(hooks.load_demo, dispatch_uid="benefits.load_demo")
        home_requested.connect(hooks.partner_home, dispatch_uid="benefits.partner_home")
