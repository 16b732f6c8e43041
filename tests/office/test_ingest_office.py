import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from citizenpoints.models import ApiKey, AuditEvent, CardLink, DataSource, IngestBatch, LedgerEntry
from citizenpoints.services.ingest import card_hash
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
HEADER = "external_id,card_number,behaviour_code,occurred_at,quantity,amount\n"
GOOD = "loan-1,330100199001011234,library-loan,2026-11-20T15:42:00+08:00,,\n"


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
def manager_client(client):
    client.force_login(UserFactory(roles=["data_source_manager"], mfa=True))
    return client


def upload(client, content: bytes, name="records.csv"):
    return client.post(reverse("office:upload", args=["library"]), {"file": SimpleUploadedFile(name, content)})


def test_a_key_is_shown_once_and_only_its_fingerprint_is_kept(manager_client, library):
    response = manager_client.post(reverse("office:key_create", args=["library"]), {"label": "nightly export"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = response.context["secret"]
    key = ApiKey.objects.get()
    assert secret.startswith(f"cp_{key.prefix}_") and secret.split("_", 2)[2] not in key.secret_hash
    page = manager_client.get(reverse("office:source", args=["library"])).content.decode()
    assert key.prefix in page and secret not in page
    manager_client.post(reverse("office:key_revoke", args=["library", key.pk]))
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action__in=["api_key.create", "api_key.revoke"]).count() == 2


def test_csv_upload_previews_then_records_on_confirmation(manager_client, library, django_capture_on_commit_callbacks):
    content = (HEADER + GOOD + "loan-2,330100199001011234,library-loan,yesterday,,\n").encode()
    response = upload(manager_client, content)
    batch = IngestBatch.objects.get()
    assert response.url == reverse("office:batch", args=[batch.pk])
    preview = manager_client.get(response.url)
    page = preview.content.decode()
    assert "If you confirm now" in page and "ISO 8601" in page
    assert ">3<" in page  # the bad value is reported on CSV line 3 (line 1 is the header)
    assert not LedgerEntry.objects.exists(), "the preview is a dry run"
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(reverse("office:batch_confirm", args=[batch.pk]))
    assert LedgerEntry.objects.count() == 1
    results = manager_client.get(reverse("office:batch_results", args=[batch.pk]))
    lines = results.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("2,loan-1,library-loan,accepted,1.00")
    assert lines[2].startswith("3,loan-2,library-loan,malformed")


def test_the_same_file_twice_is_one_batch(manager_client, library):
    upload(manager_client, (HEADER + GOOD).encode())
    upload(manager_client, (HEADER + GOOD).encode())
    assert IngestBatch.objects.count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ((HEADER + GOOD).encode("utf-8-sig"), None),  # a BOM is fine
        ((HEADER + GOOD.replace("loan-1", "借书-1")).encode("gbk"), None),  # GBK is fine
        (b"external_id,card_number,occurred_at\n1,2,3\n", "missing: behaviour_code"),
        (b"external_id,external_id,card_number,behaviour_code,occurred_at\n", "more than once: external_id"),
        (b"", "file is empty"),
        (HEADER.encode(), "no records"),
        (b"\xff\xfe\x00\x00garbage\x81\x00", "UTF-8 or GBK"),
    ],
    ids=["bom", "gbk", "missing column", "duplicated column", "empty", "header only", "binary"],
)
def test_csv_problems_are_explained_before_anything_is_stored(manager_client, library, content, message):
    response = upload(manager_client, content)
    if message is None:
        assert response.status_code == 302 and IngestBatch.objects.count() == 1
    else:
        assert response.status_code == 200 and message in response.content.decode()
        assert not IngestBatch.objects.exists()


def test_a_huge_file_is_refused_by_its_size(manager_client, library, settings):
    settings.CITYPOINTS_CSV_MAX_BYTES = 1000
    response = upload(manager_client, (HEADER + GOOD * 40).encode())
    assert "uploads are limited" in response.content.decode()
    assert not IngestBatch.objects.exists()


@pytest.mark.parametrize("role", [None, "reviewer", "auditor"])
def test_only_data_source_managers_change_things(client, library, role):
    client.force_login(UserFactory(roles=[role] if role else [], mfa=True))
    assert client.post(reverse("office:key_create", args=["library"]), {"label": "x"}).status_code == 403
    assert upload(client, (HEADER + GOOD).encode()).status_code == 403
    assert not ApiKey.objects.exists() and not IngestBatch.objects.exists()
    expected = 200 if role == "auditor" else 403  # the auditor reads
    assert client.get(reverse("office:source", args=["library"])).status_code == expected


def test_a_resident_links_a_card_without_it_being_stored(client):
    resident = ResidentFactory()
    client.force_login(resident.user)
    response = client.post(reverse("card"), {"card_number": "3301 0019 9001 011234"})
    assert response.status_code == 302
    link = CardLink.objects.get(resident=resident)
    assert link.card_hash == card_hash("330100199001011234")
    page = client.get(reverse("card")).content.decode()
    assert "330100199001011234" not in page and "A card linked on" in page


def test_a_card_already_linked_to_someone_else_is_refused(client):
    CardLink.objects.create(resident=ResidentFactory(), card_hash=card_hash("330100199001011234"))
    resident = ResidentFactory()
    client.force_login(resident.user)
    response = client.post(reverse("card"), {"card_number": "330100199001011234"})
    assert "already linked to another account" in response.content.decode()
    assert not CardLink.objects.filter(resident=resident).exists()


def test_departments_are_added_edited_and_paused_with_an_audit_trail(manager_client, library):
    response = manager_client.post(
        reverse("office:source_new"),
        {"code": "metro", "name_en": "Metro Group", "name_zh": "地铁集团", "contact": "ops@metro", "is_active": "on"},
    )
    assert response.url == reverse("office:source", args=["metro"])
    manager_client.post(
        reverse("office:source_edit", args=["metro"]),
        {"code": "ignored", "name_en": "Metro Group", "name_zh": "地铁集团", "contact": "ops@metro"},  # unticked
    )
    metro = DataSource.objects.get(code="metro")
    assert not metro.is_active and metro.kind == "department"
    assert list(AuditEvent.objects.filter(object_type="citizenpoints.datasource").values_list("action", flat=True)) == [
        "data_source.update",
        "data_source.create",
    ]
    taken = manager_client.post(reverse("office:source_new"), {"code": "library", "name_en": "x", "name_zh": "x"})
    assert "exists" in taken.content.decode()
