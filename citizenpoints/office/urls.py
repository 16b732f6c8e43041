from django.urls import path

from citizenpoints.office import appeal_views
from citizenpoints.office import audit_views, catalogue_views, claim_views, home_views, ingest_views, resident_views

app_name = "office"

urlpatterns = [
    path("", home_views.office_home, name="home"),
    path("appeals/", appeal_views.queue, name="appeals"),
    path("appeals/<int:pk>/", appeal_views.detail, name="appeal"),
    path("appeals/<int:pk>/review/", appeal_views.review_start, name="appeal_review"),
    path("appeals/<int:pk>/decide/", appeal_views.decide, name="appeal_decide"),
    path("calendar/", appeal_views.calendar, name="calendar"),
    path("calendar/new/", appeal_views.calendar_day_edit, name="calendar_day_new"),
    path("calendar/<int:pk>/", appeal_views.calendar_day_edit, name="calendar_day_edit"),
    path("calendar/<int:pk>/remove/", appeal_views.calendar_day_delete, name="calendar_day_remove"),
    path("audit/", audit_views.audit_trail, name="audit"),
    path("claims/", claim_views.queue, name="claims"),
    path("claims/<int:pk>/", claim_views.detail, name="claim"),
    path("claims/<int:pk>/approve/", claim_views.approve, name="claim_approve"),
    path("claims/<int:pk>/reject/", claim_views.reject, name="claim_reject"),
    path("audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("catalogue/", catalogue_views.versions, name="catalogue"),
    path("catalogue/draft/", catalogue_views.draft_start, name="catalogue_draft"),
    path("catalogue/<int:number>/", catalogue_views.version_detail, name="catalogue_version"),
    path("catalogue/<int:number>/publish/", catalogue_views.publish, name="catalogue_publish"),
    path("catalogue/<int:number>/behaviours/new/", catalogue_views.behaviour_edit, name="behaviour_new"),
    path("catalogue/<int:number>/behaviours/<slug:code>/", catalogue_views.behaviour_edit, name="behaviour_edit"),
    path(
        "catalogue/<int:number>/behaviours/<slug:code>/remove/",
        catalogue_views.behaviour_delete,
        name="behaviour_remove",
    ),
    path("sources/", ingest_views.source_list, name="sources"),
    path("sources/new/", ingest_views.source_edit, name="source_new"),
    path("sources/<slug:code>/", ingest_views.source_detail, name="source"),
    path("sources/<slug:code>/edit/", ingest_views.source_edit, name="source_edit"),
    path("sources/<slug:code>/keys/", ingest_views.key_create, name="key_create"),
    path("sources/<slug:code>/keys/<int:key_id>/revoke/", ingest_views.key_revoke, name="key_revoke"),
    path("sources/<slug:code>/upload/", ingest_views.upload, name="upload"),
    path("batches/<uuid:batch_id>/", ingest_views.batch_detail, name="batch"),
    path("batches/<uuid:batch_id>/confirm/", ingest_views.batch_confirm_view, name="batch_confirm"),
    path("batches/<uuid:batch_id>/results.csv", ingest_views.batch_results_csv, name="batch_results"),
    path("residents/", resident_views.resident_search, name="residents"),
    path("residents/<int:number>/", resident_views.resident_detail, name="resident"),
    path(
        "residents/<int:number>/entries/<int:entry_id>/reverse/",
        resident_views.entry_reverse_confirm,
        name="entry_reverse",
    ),
]
