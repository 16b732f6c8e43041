"""Appeals in residents' rights: evidence photos kept without metadata and only while needed, the export, leaving
(statements erased, photos deleted, an open appeal closed) and the retention purge."""

import datetime
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from citizenpoints.models import Appeal, EvidencePhoto
from citizenpoints.personal_data import datasets
from citizenpoints.services.appeals import appeal_decide, appeal_file
from citizenpoints.services.evidence import EvidenceError
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.retention import retention_purge
from tests.appeals.conftest import MONDAY_10AM

pytestmark = pytest.mark.django_db

YESTERDAY = MONDAY_10AM - datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def private_root(tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "private": {**settings.STORAGES["private"]}}
    settings.STORAGES["private"]["OPTIONS"] = {"location": tmp_path / "private"}
    return tmp_path / "private"


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def photo(name="receipt.jpg") -> SimpleUploadedFile:
    output = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make: must not survive
    Image.new("RGB", (800, 600), (200, 180, 40)).save(output, format="JPEG", exif=exif)
    return SimpleUploadedFile(name, output.getvalue(), content_type="image/jpeg")


def file_with_photo(resident, **kwargs):
    return appeal_file(
        resident=resident,
        subject="missing",
        statement="Receipt attached.",
        behaviour_code="library-loan",
        occurred_at=YESTERDAY,
        photos=[photo()],
        **kwargs,
    )


def stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_a_photo_is_kept_without_metadata_and_shown_only_to_its_owner_and_reviewers(
    client, resident, reviewer, private_root
):
    appeal = file_with_photo(resident)
    stored = EvidencePhoto.objects.get(appeal=appeal)
    [path] = stored_files(private_root)
    with Image.open(path) as kept:
        assert not kept.getexif()
    url = reverse("evidence_photo", args=[stored.pk])
    client.force_login(resident.user)
    assert client.get(url).status_code == 200
    assert url in client.get(reverse("appeal_detail", args=[appeal.pk])).content.decode()
    client.force_login(reviewer)
    assert url in client.get(reverse("office:appeal", args=[appeal.pk])).content.decode()
    from tests.factories import ResidentFactory

    client.force_login(ResidentFactory().user)
    assert client.get(url).status_code == 404


def test_a_file_that_is_not_a_photo_stores_nothing(resident, private_root):
    fake = SimpleUploadedFile("scan.jpg", b"%PDF-1.4 not an image", content_type="image/jpeg")
    with pytest.raises(EvidenceError) as refused:
        appeal_file(
            resident=resident,
            subject="missing",
            statement="Here.",
            behaviour_code="library-loan",
            occurred_at=YESTERDAY,
            photos=[fake],
        )
    assert refused.value.code == "not_an_image"
    assert not Appeal.objects.exists() and stored_files(private_root) == []


def test_the_export_holds_the_resident_s_appeals_and_photos(resident):
    appeal = file_with_photo(resident)
    by_name = {dataset.name: dataset for dataset in datasets()}
    rows = list(by_name["appeals"].rows(resident).values(*by_name["appeals"].columns))
    assert [(row["id"], row["statement"], row["due_on"]) for row in rows] == [
        (appeal.pk, "Receipt attached.", datetime.date(2026, 11, 23))
    ]
    assert by_name["appeal_photos"].rows(resident).count() == 1


def test_leaving_erases_statements_deletes_photos_and_closes_open_appeals(
    resident, reviewer, private_root, django_capture_on_commit_callbacks
):
    open_one = file_with_photo(resident)
    decided = appeal_file(
        resident=resident, subject="missing", statement="Another.", behaviour_code="library-loan", occurred_at=YESTERDAY
    )
    appeal_decide(acting_user=reviewer, appeal=decided, grant=False, reason="Not in the library's log.")
    with django_capture_on_commit_callbacks(execute=True):
        resident_leave(resident=resident, acting_user=resident.user)
    assert set(Appeal.objects.values_list("statement", flat=True)) == {""}
    assert not EvidencePhoto.objects.exists() and stored_files(private_root) == []
    open_one.refresh_from_db()
    assert open_one.status == Appeal.Status.REFUSED and "left the programme" in open_one.decision_reason
    decided.refresh_from_db()
    assert decided.decision_reason == "Not in the library's log."  # kept, for the office's statistics


def test_the_retention_purge_deletes_old_appeals_and_their_photos(
    resident, reviewer, private_root, django_capture_on_commit_callbacks
):
    appeal = file_with_photo(resident)
    appeal_decide(acting_user=reviewer, appeal=appeal, grant=True, reason="The library's log shows it.")
    with django_capture_on_commit_callbacks(execute=True):
        report = retention_purge(now=MONDAY_10AM + datetime.timedelta(days=365 * 5 + 30))
    assert report["appeals"] == 1 and report["appeal_photos"] == 1
    assert not Appeal.objects.exists() and stored_files(private_root) == []
