"""Claims and their photos under residents' rights: exported, erased on leaving, purged after retention."""

import datetime
import io
import json
import zipfile

import pytest
from django.utils import timezone

from citizenpoints.models import Claim, EvidencePhoto, LedgerEntry, OfficeRole
from citizenpoints.personal_data import OnLeave, datasets
from citizenpoints.services.claims import claim_approve, claim_reject
from citizenpoints.services.exports import export_archive
from citizenpoints.services.leaving import resident_leave
from citizenpoints.services.retention import retention_purge
from tests.claims.conftest import hours_ago, upload
from tests.claims.test_claim_services import file_claim
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer():
    return UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)


def test_claims_and_their_photos_are_registered():
    registered = {dataset.name: dataset for dataset in datasets()}
    assert registered["claims"].model is Claim and registered["claims"].on_leave == OnLeave.ANONYMISED
    assert registered["claim_photos"].model is EvidencePhoto
    assert registered["claim_photos"].on_leave == OnLeave.ERASED


def test_the_export_holds_the_resident_s_claims_only(catalogue, reviewer):
    resident = ResidentFactory()
    claim = file_claim(resident, photos=[upload(), upload()])
    claim_reject(acting_user=reviewer, claim=claim, reason="The photo is of a different place.")
    file_claim(ResidentFactory(), description="Someone else's claim, not to be exported.")

    archive = zipfile.ZipFile(io.BytesIO(export_archive(resident=resident, now=timezone.now())))
    tables = json.loads(archive.read("data.json"))["tables"]
    assert [row["id"] for row in tables["claims"]] == [claim.pk]
    assert tables["claims"][0]["decision_reason"] == "The photo is of a different place."
    assert "decided_by" not in json.dumps(tables["claims"])  # never who decided
    assert len(tables["claim_photos"]) == 2 and "file_name" not in tables["claim_photos"][0]
    assert "claims.csv" in archive.namelist() and "claim_photos.csv" in archive.namelist()


@pytest.mark.django_db(transaction=True)
def test_leaving_erases_the_text_and_photos_but_keeps_the_points(catalogue, private_root):
    reviewer = UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)
    resident = ResidentFactory()
    approved = file_claim(resident, occurred_at=hours_ago(1))
    claim_approve(acting_user=reviewer, claim=approved)
    rejected = file_claim(resident, occurred_at=hours_ago(2))
    claim_reject(acting_user=reviewer, claim=rejected, reason="My neighbour's name is in this text.")
    pending = file_claim(resident, occurred_at=hours_ago(3))
    files = [private_root / photo.file_name for photo in EvidencePhoto.objects.all()]
    assert len(files) == 3 and all(path.is_file() for path in files)
    other = file_claim(ResidentFactory())

    resident_leave(resident=resident, acting_user=resident.user)

    for claim in (approved, rejected, pending):
        claim.refresh_from_db()
        assert (claim.description, claim.place) == ("", "")
    assert rejected.decision_reason == "—" and "neighbour" not in rejected.decision_reason
    assert not EvidencePhoto.objects.filter(claim__resident=resident).exists()
    assert not any(path.exists() for path in files)
    assert LedgerEntry.objects.filter(resident=resident, external_id=f"claim:{approved.pk}").exists()
    assert other.photos.count() == 1 and (private_root / other.photos.get().file_name).is_file()


@pytest.mark.django_db(transaction=True)
def test_the_retention_purge_deletes_old_claims_and_their_files(catalogue, private_root):
    resident = ResidentFactory()
    old = file_claim(resident, occurred_at=hours_ago(1))
    recent = file_claim(resident, occurred_at=hours_ago(2))
    old_file = private_root / old.photos.get().file_name
    Claim.objects.filter(pk=old.pk).update(filed_at=timezone.now() - datetime.timedelta(days=6 * 366))

    report = retention_purge()

    assert report["claims"] == 1 and report["claim_photos"] == 1
    assert not Claim.objects.filter(pk=old.pk).exists() and not old_file.exists()
    assert Claim.objects.filter(pk=recent.pk).exists() and recent.photos.count() == 1


def test_the_personal_report_lists_claims(client, catalogue):
    from django.urls import reverse

    resident = ResidentFactory()
    file_claim(resident)
    client.force_login(resident.user)
    page = client.get(reverse("rights_report")).content.decode()
    assert "Claims you filed" in page and "Helping a neighbour" in page
