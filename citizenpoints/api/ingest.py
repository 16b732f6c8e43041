"""The departments' door: POST a batch of records, GET its per-record results."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from citizenpoints.api.schema import ErrorSerializer  # also registers the API-key security scheme
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import DataSource, IngestBatch, IngestRecord
from citizenpoints.services.ingest import api_key_authenticate, batch_receive


class SourcePrincipal:
    """Who is calling: a department, through one of its keys (not a person; no session, no CSRF)."""

    is_authenticated = True
    is_active = True

    def __init__(self, source: DataSource):
        self.source = source
        self.pk = None

    def __str__(self) -> str:
        return f"data source {self.source.code}"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"api-key"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in {self.keyword, b"bearer"}:
            return None
        if len(parts) != 2:
            raise ApplicationError("Send the header as: Authorization: Api-Key <key>", code="invalid_key")
        key = api_key_authenticate(parts[1].decode("latin-1"))
        return SourcePrincipal(key.source), key

    def authenticate_header(self, request):
        return "Api-Key"


class IsDataSource(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, SourcePrincipal)


class PerSourceThrottle(SimpleRateThrottle):
    scope = "ingest"

    def get_cache_key(self, request, view):
        if isinstance(request.user, SourcePrincipal):
            return self.cache_format % {"scope": self.scope, "ident": request.user.source.pk}
        return None


RECORD_EXAMPLE = {
    "external_id": "loan-2026-11-20-000123",
    "card_number": "330100199001011234",
    "behaviour_code": "library-loan",
    "occurred_at": "2026-11-20T15:42:00+08:00",
}
ERROR = ErrorSerializer
BATCH_ACCEPTED = inline_serializer(
    "BatchAccepted",
    {
        "batch_id": serializers.UUIDField(),
        "status": serializers.CharField(),
        "record_count": serializers.IntegerField(),
        "status_url": serializers.URLField(),
    },
)
BATCH_STATUS = inline_serializer(
    "BatchStatus",
    {
        "batch_id": serializers.UUIDField(),
        "status": serializers.ChoiceField(IngestBatch.Status.choices),
        "received_at": serializers.DateTimeField(),
        "processed_at": serializers.DateTimeField(allow_null=True),
        "record_count": serializers.IntegerField(),
        "counts": serializers.DictField(child=serializers.IntegerField()),
        "results": inline_serializer(
            "RecordResult",
            {
                "line": serializers.IntegerField(),
                "external_id": serializers.CharField(),
                "result": serializers.ChoiceField(IngestRecord.Result.choices),
                "points": serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True),
                "detail": serializers.CharField(),
            },
            many=True,
        ),
    },
)


class IngestAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsDataSource]
    throttle_classes = [PerSourceThrottle]


class BatchCreateView(IngestAPIView):
    @extend_schema(
        operation_id="ingest_batch_create",
        summary="Send up to 10,000 behaviour records",
        description=(
            "Answers 202 at once with the batch id; records are processed in the background. Re-sending the same "
            "records with the same Idempotency-Key returns the same batch (and resumes it if it was interrupted); "
            "the same key with other records is refused with 422; the same key while the first request is still "
            "being received gets 409 with Retry-After. Each record: external_id (unique per source), card_number "
            "(the resident's citizen card; only a keyed hash is kept), behaviour_code (from the published "
            "catalogue), occurred_at (ISO 8601 with offset), quantity (hours, for per-unit behaviours) or amount "
            "(yuan, for amount-band behaviours)."
        ),
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)],
        request=inline_serializer("BatchRequest", {"records": serializers.ListField(child=serializers.DictField())}),
        responses={
            202: BATCH_ACCEPTED,
            200: BATCH_ACCEPTED,
            400: ERROR,
            401: ERROR,
            409: ERROR,
            422: ERROR,
            429: ERROR,
        },
        examples=[
            OpenApiExample(
                "Two library loans",
                request_only=True,
                value={"records": [RECORD_EXAMPLE, {**RECORD_EXAMPLE, "external_id": "loan-2026-11-20-000124"}]},
            ),
            OpenApiExample(
                "Volunteer hours",
                request_only=True,
                value={
                    "records": [
                        {
                            **RECORD_EXAMPLE,
                            "external_id": "vf-88121",
                            "behaviour_code": "volunteer-hours",
                            "quantity": "3.5",
                        }
                    ]
                },
            ),
            OpenApiExample(
                "Accepted",
                response_only=True,
                status_codes=["202"],
                value={
                    "batch_id": "0f3c1b7e-6a51-4c5e-9d1e-2f5b8a7c9e10",
                    "status": "received",
                    "record_count": 2,
                    "status_url": "https://points.example.gov/api/v1/ingest/batches/0f3c1b7e-6a51-4c5e-9d1e-2f5b8a7c9e10/",
                },
            ),
            OpenApiExample(
                "Key reused for other records",
                response_only=True,
                status_codes=["422"],
                value={
                    "code": "idempotency_key_reused",
                    "message": "This Idempotency-Key was already used for different records.",
                    "extra": {},
                },
            ),
        ],
    )
    def post(self, request):
        records = request.data.get("records") if isinstance(request.data, dict) else None
        if records is not None and not isinstance(records, list):
            raise ApplicationError("`records` must be a list of objects.", code="invalid_batch")
        received = batch_receive(
            source=request.user.source,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
            records=records or [],
        )
        batch = received.batch
        return Response(
            {
                "batch_id": batch.pk,
                "status": batch.status,
                "record_count": batch.record_count,
                "status_url": request.build_absolute_uri(f"{request.path}{batch.pk}/"),
            },
            status=status.HTTP_202_ACCEPTED if received.created else status.HTTP_200_OK,
        )


class BatchDetailView(IngestAPIView):
    @extend_schema(
        operation_id="ingest_batch_retrieve",
        summary="A batch's status and per-record results",
        parameters=[
            OpenApiParameter(
                "result",
                OpenApiTypes.STR,
                enum=IngestRecord.Result.values,
                description="Only records with this result.",
            )
        ],
        responses={200: BATCH_STATUS, 401: ERROR, 404: ERROR},
    )
    def get(self, request, batch_id):
        batch = get_object_or_404(IngestBatch, pk=batch_id, source=request.user.source)  # others' batches: 404
        records = batch.records.order_by("line").values("line", "external_id", "result", "points", "detail")
        if request.query_params.get("result"):
            records = records.filter(result=request.query_params["result"])
        return Response(
            {
                "batch_id": batch.pk,
                "status": batch.status,
                "received_at": batch.received_at,
                "processed_at": batch.processed_at,
                "record_count": batch.record_count,
                "counts": batch.counts,
                "results": list(records) if batch.status == IngestBatch.Status.DONE else [],
            }
        )
