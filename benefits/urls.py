from django.urls import include, path

from benefits import views
from benefits.office import views as office

app_name = "benefits"

urlpatterns = [
    # First: the partner API's scanners call it most; no other pattern here starts with api/.
    path("api/", include("benefits.api.urls")),
    path("benefits/", views.catalogue, name="index"),
    path("benefits/used/", views.history, name="used"),
    path("benefits/<int:pk>/", views.detail, name="benefit"),
    path("benefits/<int:pk>/use/", views.use, name="use"),
    path("counter/", views.scan, name="counter"),
    path("counter/verify/", views.verify, name="counter-verify"),
    path("counter/confirm/", views.confirm, name="counter-confirm"),
    path("counter/redemptions/", views.merchant_history, name="counter-redemptions"),
    path("counter/redemptions.csv", views.merchant_history_csv, name="counter-redemptions-csv"),
    # The credit office's partner manager (under /office/, beside the console's own screens).
    path("office/partners/", office.merchants, name="office-merchants"),
    path("office/partners/new/", office.merchant_new, name="office-merchant-new"),
    path("office/partners/merchants/<slug:slug>/", office.merchant_detail, name="office-merchant"),
    path("office/partners/merchants/<slug:slug>/edit/", office.merchant_edit, name="office-merchant-edit"),
    path("office/partners/merchants/<slug:slug>/pause/", office.merchant_pause_view, name="office-merchant-pause"),
    path("office/partners/merchants/<slug:slug>/resume/", office.merchant_resume_view, name="office-merchant-resume"),
    path("office/partners/merchants/<slug:slug>/locations/", office.location_new, name="office-location-new"),
    path("office/partners/merchants/<slug:slug>/staff/", office.staff_new, name="office-staff-new"),
    path("office/partners/merchants/<slug:slug>/benefits/new/", office.benefit_new, name="office-benefit-new"),
    path("office/partners/benefits/", office.benefits, name="office-benefits"),
    path("office/partners/benefits/new-tier/", office.benefits_new_tier, name="office-benefits-new-tier"),
    path("office/partners/benefits/<int:pk>/", office.benefit_detail, name="office-benefit"),
    path("office/partners/benefits/<int:pk>/edit/", office.benefit_edit, name="office-benefit-edit"),
    path("office/partners/benefits/<int:pk>/pause/", office.benefit_pause_view, name="office-benefit-pause"),
    path("office/partners/benefits/<int:pk>/resume/", office.benefit_resume_view, name="office-benefit-resume"),
    path("office/partners/benefits/<int:pk>/quota/", office.benefit_quota_view, name="office-benefit-quota"),
    path("office/partners/benefits/<int:pk>/tier/", office.benefit_min_tier_view, name="office-benefit-tier"),
]
