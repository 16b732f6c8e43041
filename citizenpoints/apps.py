from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CitizenPointsConfig(AppConfig):
    name = "citizenpoints"
    verbose_name = _("City points")

    def ready(self) -> None:
        from citizenpoints import claims_data, sql  # noqa: F401 (sql registers the `any` lookup)
        from citizenpoints.appeals_data import appeals_connect
        from citizenpoints.dashboard_cache import dashboard_cache_connect
        from citizenpoints.notifications_data import register_notifications
        from citizenpoints.personal_data import register_points_datasets
        from citizenpoints.statistics import register_points_statistics

        register_points_datasets()
        appeals_connect()
        claims_data.register()
        register_points_statistics()
        register_notifications()
        dashboard_cache_connect()
