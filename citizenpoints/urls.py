from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from citizenpoints.views import appeals, cards, catalogue, claims, pages, residents, rights
from citizenpoints.views import notifications as inbox

# The admin signs in through allauth, so staff two-factor authentication applies there too.
admin.site.login = login_required(admin.site.login)
admin.site.site_header = "CityPoints"

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("terms/", pages.terms, name="terms"),
    path("terms/<str:version>/", pages.terms, name="terms_version"),
    path("i18n/setlang/", pages.language_switch, name="set_language"),
    path("healthz", pages.health, name="health"),
    path("join/", residents.join, name="join"),
    path("me/", residents.home, name="home"),
    path("me/card/", cards.card, name="card"),
    path("me/profile/", residents.profile, name="profile"),
    path("me/history/", residents.history, name="history"),
    path("me/appeals/", appeals.appeal_list, name="appeals"),
    path("me/appeals/missing/", appeals.appeal_missing, name="appeal_missing"),
    path("me/appeals/record/<int:entry_id>/", appeals.appeal_entry, name="appeal_entry"),
    path("me/appeals/claim/<int:claim_id>/", appeals.appeal_claim, name="appeal_claim"),
    path("me/appeals/<int:pk>/", appeals.appeal_detail, name="appeal_detail"),
    path("me/inbox/", inbox.inbox, name="inbox"),
    path("me/inbox/read/", inbox.inbox_read_all, name="inbox_read_all"),
    path("me/inbox/<int:notice_id>/open/", inbox.inbox_open, name="inbox_open"),
    path("me/claims/", claims.claim_list, name="claims"),
    path("me/claims/new/", claims.claim_new, name="claim_new"),
    path("me/claims/<int:pk>/", claims.claim_detail, name="claim_detail"),
    path("evidence/<int:pk>.jpg", claims.evidence_photo, name="evidence_photo"),
    path("me/rights/report/", rights.report, name="rights_report"),
    path("me/rights/report.pdf", rights.report_pdf, name="rights_report_pdf"),
    path("me/rights/export/", rights.export, name="rights_export"),
    path("me/rights/export/<uuid:export_id>/", rights.export_download, name="rights_export_download"),
    path("me/rights/access/", rights.access_log, name="rights_access"),
    path("me/rights/terms/", rights.consent, name="rights_consent"),
    path("me/rights/leave/", rights.leave, name="rights_leave"),
    path("goodbye/", rights.left, name="rights_left"),
    path("catalogue/", catalogue.catalogue, name="catalogue"),
    path("tiers/", catalogue.tiers, name="tiers"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("benefits.urls")),
    path("api/v1/", include("citizenpoints.api.urls")),
    path("office/", include("citizenpoints.office.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
