from django.urls import path

from citizenpoints.office import ingest_views

app_name = "office"

urlpatterns = [
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
]
