from django.urls import path

from citizenpoints.api import ingest

urlpatterns = [
    path("ingest/batches/", ingest.BatchCreateView.as_view(), name="api-ingest-batches"),
    path("ingest/batches/<uuid:batch_id>/", ingest.BatchDetailView.as_view(), name="api-ingest-batch"),
]
