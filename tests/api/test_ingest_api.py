import datetime
import json

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from citizenpoints.api.ingest import PerSourceThrottle
from citizenpoints.models import CardLink, DataSource, IngestBatch, IngestRecord, LedgerEntry
from citizenpoints.services.ingest import api_key_create, api_key_revoke, card_hash
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
URL = "/api/v1/ingest/batches/"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def library():
    source = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(sources=[source], behaviours=[{"code": "library-loan", "rule": {"points": 1}}])
    CardLink.objects.create(resident=ResidentFactory(), card_hash=card_hash("330100199001011234"))
    return source


@pytest.fixture
def manager():
    return UserFactory(roles=["data_source_manager"])


def key_for(source, manager):
    return api_key_create(acting_user=manager, source=source, label="test")[1]


def record(n=1, **overrides):
    return {
        "external_id": f"loan-{n}",
        "card_number": "3301 0019 9001 011234",
        "behaviour_code": "library-loan",
        "occurred_at": "2026-11-20T15:42:00+08:00",
        **overrides,
    }


def post(client, key, body, idempotency_key="batch-1", raw=False):
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"} if key else {}
    if idempotency_key:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    data = body if raw else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


def test_a_batch_is_accepted_at_once_then_processed(client, library, manager, django_capture_on_commit_callbacks):
    key = key_for(library, manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, key, {"records": [record(1), record(2), record(2), record(3, card_number="0000000")]})
    assert response.status_code == 202
    batch_id = response.json()["batch_id"]
    status = client.get(f"{URL}{batch_id}/", HTTP_AUTHORIZATION=f"Api-Key {key}").json()
    assert status["status"] == "done"
    assert [r["result"] for r in status["results"]] == ["accepted", "accepted", "duplicate", "unknown_card"]
    assert status["counts"] == {"accepted": 2, "duplicate": 1, "unknown_card": 1}
    assert LedgerEntry.objects.count() == 2


def test_resending_returns_the_same_batch(client, library, manager, django_capture_on_commit_callbacks):
    key = key_for(library, manager)
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, key, {"records": [record(1)]})
        again = post(client, key, {"records": [record(1)]})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["batch_id"] == again.json()["batch_id"]
    assert IngestBatch.objects.count() == 1 and LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "raw", "code"),
    [
        ("{not json", True, "parse_error"),
        ({"records": "many"}, False, "invalid_batch"),
        ({"records": []}, False, "empty_batch"),
        ({}, False, "empty_batch"),
        ({"records": [record(n) for n in range(10_001)]}, False, "too_many_records"),
    ],
    ids=["malformed json", "records not a list", "empty", "no records", "10001 records"],
)
def test_bad_batches_are_refused_whole(client, library, manager, body, raw, code):
    response = post(client, key_for(library, manager), body, raw=raw)
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["message"]
    assert not IngestBatch.objects.exists() and not LedgerEntry.objects.exists()


def test_wrong_types_in_a_record_make_that_record_malformed(
    client, library, manager, django_capture_on_commit_callbacks
):
    key = key_for(library, manager)
    bad = [
        record(1, occurred_at=20261120),
        record(2, quantity="lots"),
        record(3, occurred_at="2026-11-20T15:00:00"),
        record(4, external_id=None),
        "not an object",
        record(6),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = post(client, key, {"records": bad}).json()["batch_id"]
    results = list(IngestRecord.objects.filter(batch_id=batch_id).order_by("line").values_list("result", "detail"))
    assert [r for r, _ in results] == ["malformed"] * 5 + ["accepted"]
    assert "time zone" in results[2][1]


def test_the_idempotency_key_is_required(client, library, manager):
    response = post(client, key_for(library, manager), {"records": [record()]}, idempotency_key=None)
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_required")


def test_the_same_key_with_other_records_is_422(client, library, manager, django_capture_on_commit_callbacks):
    key = key_for(library, manager)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, key, {"records": [record(1)]})
    response = post(client, key, {"records": [record(2)]})
    assert (response.status_code, response.json()["code"]) == (422, "idempotency_key_reused")


def test_the_same_key_while_the_first_is_being_received_is_409(client, library, manager):
    key = key_for(library, manager)
    import hashlib

    # What batch_receive holds while it stores the first request's records.
    cache.add(f"ingest-receiving:{library.pk}:{hashlib.sha256(b'batch-1').hexdigest()}", 1, 60)
    response = post(client, key, {"records": [record(1)]})
    assert (response.status_code, response.json()["code"]) == (409, "request_in_progress")
    assert response["Retry-After"] == "5"
    assert not IngestBatch.objects.exists()


def test_keys_authenticate_and_revoked_keys_do_not(client, library, manager):
    key = key_for(library, manager)
    assert post(client, None, {"records": [record()]}).status_code == 401
    response = post(client, key[:-2] + "xx", {"records": [record()]})
    assert (response.status_code, response.json()["code"]) == (401, "invalid_key")
    api_key_revoke(acting_user=manager, key=library.api_keys.get())
    response = post(client, key, {"records": [record()]})
    assert (response.status_code, response.json()["code"]) == (401, "key_revoked")


def test_another_sources_batch_is_not_found(client, library, manager, django_capture_on_commit_callbacks):
    metro = DataSource.objects.create(code="metro", name_en="Metro", name_zh="地铁")
    with django_capture_on_commit_callbacks(execute=True):
        batch_id = post(client, key_for(library, manager), {"records": [record()]}).json()["batch_id"]
    response = client.get(f"{URL}{batch_id}/", HTTP_AUTHORIZATION=f"Api-Key {key_for(metro, manager)}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_each_source_is_rate_limited(client, library, manager, monkeypatch):
    monkeypatch.setattr(PerSourceThrottle, "rate", "2/min", raising=False)
    key = key_for(library, manager)
    codes = [post(client, key, {"records": [record(n)]}, idempotency_key=f"k{n}").status_code for n in range(3)]
    assert codes == [202, 202, 429]


def test_only_data_source_managers_make_keys(library):
    from citizenpoints.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        api_key_create(acting_user=UserFactory(roles=["reviewer"]), source=library, label="x")
    assert refused.value.code == "permission_denied"


def test_the_schema_documents_the_ingest_api(client):
    schema = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    post_operation = schema["paths"]["/api/v1/ingest/batches/"]["post"]
    assert "Idempotency-Key" in json.dumps(post_operation["parameters"])
    assert post_operation["requestBody"]["content"]["application/json"]["examples"]
    assert "/api/v1/ingest/batches/{batch_id}/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["departmentApiKey"]["in"] == "header"
    assert post_operation["security"] == [{"departmentApiKey": []}]
