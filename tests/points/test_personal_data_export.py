"""The export: every table that names a resident is in it, built by a task, downloadable by its owner for a while."""

import csv
import datetime
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import models
from django.urls import reverse
from django.utils import timezone

from citizenpoints.models import (
    ApiKey,
    CatalogueVersion,
    ExportRequest,
    IngestBatch,
    Resident,
    User,
)
from citizenpoints.personal_data import datasets
from citizenpoints.services.access import resident_file_open
from citizenpoints.services.exports import export_archive, export_build, exports_expire, private_storage
from citizenpoints.services.ingest import card_link
from tests.factories import ResidentFactory, UserFactory
from tests.rights_data import history

pytestmark = pytest.mark.django_db

# Models that point at a resident or an account but hold nothing about a resident as such. Each says why.
NOT_PERSONAL = {
    # Staff authorship of the programme's own records (who drafted or published a catalogue version, who made a
    # department's API key, who uploaded a CSV batch): data about staff at work, not about residents.
    CatalogueVersion: "staff authorship",
    ApiKey: "staff authorship",
    IngestBatch: "staff authorship (the batch's records about a resident are exported as department_records)",
    # Django admin's log of what superusers changed in the admin: staff actions; residents never use the admin.
    LogEntry: "staff actions in the admin",
}


@pytest.fixture
def private_root(tmp_path, settings):
    """Exports go to a temporary private folder, outside MEDIA_ROOT as in production."""
    settings.STORAGES = {**settings.STORAGES, "private": {**settings.STORAGES["private"]}}
    settings.STORAGES["private"]["OPTIONS"] = {"location": tmp_path / "private"}
    return tmp_path / "private"


def _points_at(model, targets) -> bool:
    return any(
        field.is_relation and field.concrete and field.related_model in targets
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey | models.OneToOneField)
    )


def test_every_model_holding_resident_data_is_exported_or_explained():
    """Walk every installed model: one that points at a Resident or a User (or, one level further, at a model whose
    rows are exported) must be in the export or in NOT_PERSONAL with its reason. A new model fails this until then."""
    exported = {dataset.model for dataset in datasets()} | {
        covered for dataset in datasets() for covered in dataset.also_covers
    }
    direct = {model for model in apps.get_models() if _points_at(model, {Resident, User})}
    one_level = {model for model in apps.get_models() if _points_at(model, exported - {Resident, User})}
    missing = sorted(
        model._meta.label for model in (direct | one_level) - exported - set(NOT_PERSONAL) - {Resident, User}
    )
    assert not missing, f"export these (citizenpoints.personal_data) or explain them in NOT_PERSONAL: {missing}"
    # The account and the resident rows themselves are exported too, and so is every table the issue names.
    names = {dataset.name for dataset in datasets()}
    assert {"account", "resident", "balance", "ledger_entries", "audit_events", "card_links", "consents"} <= names
    assert {"redemptions", "benefit_tokens"} <= names  # registered by benefits, which the points domain never imports


def test_the_walk_notices_a_new_model(monkeypatch):
    """The model walk is not vacuous: an unregistered model pointing at Resident is reported."""

    class UnregisteredDiary(models.Model):
        resident = models.ForeignKey(Resident, on_delete=models.CASCADE)

        class Meta:
            app_label = "citizenpoints"

        def __str__(self) -> str:
            return f"diary {self.pk}"

    original = apps.get_models
    monkeypatch.setattr(apps, "get_models", lambda *a, **k: [*original(*a, **k), UnregisteredDiary])
    with pytest.raises(AssertionError, match=r"citizenpoints\.UnregisteredDiary"):
        test_every_model_holding_resident_data_is_exported_or_explained()
    apps.all_models["citizenpoints"].pop("unregistereddiary", None)


def test_the_archive_holds_json_a_csv_per_table_and_a_readme():
    data = history()
    resident = data["residents"]["mixed"]
    card_link(resident=resident, card_number="330100198001011234")
    resident_file_open(acting_user=UserFactory(roles=["auditor"], mfa=True), resident=resident)
    ResidentFactory()  # someone else, who must not appear

    archive = zipfile.ZipFile(io.BytesIO(export_archive(resident=resident, now=timezone.now())))
    names = set(archive.namelist())
    assert names == {"data.json", "README.txt"} | {f"{dataset.name}.csv" for dataset in datasets()}

    document = json.loads(archive.read("data.json"))
    tables = document["tables"]
    assert document["format"] == "citypoints-export/1" and document["resident_id"] == resident.pk
    assert [row["seq"] for row in tables["ledger_entries"]] == [1, 2, 3, 4, 5, 6]
    assert tables["ledger_entries"][0]["source__name_zh"] == "市图书馆"
    assert tables["account"] == [
        {
            "email": resident.user.email,
            "first_name": "",
            "last_name": "",
            "date_joined": tables["account"][0]["date_joined"],
            "last_login": None,
            "is_active": True,
        }
    ]
    assert tables["resident"][0]["given_name"] == "Mixed"
    assert len(tables["card_links"]) == 1 and len(tables["consents"]) == 1
    views = [row for row in tables["audit_events"] if row["action"] == "resident.view"]
    assert views and views[0]["after"] == {"roles": ["auditor"]}
    # Staff identities are never exported: no actor column, no IP address.
    assert all("actor" not in column and "ip" not in column for column in views[0])

    rows = list(csv.DictReader(io.StringIO(archive.read("ledger_entries.csv").decode("utf-8-sig"))))
    assert [row["seq"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0]["behaviour__name_zh"] == "图书借阅"

    readme = archive.read("README.txt").decode()
    for dataset in datasets():
        assert f"{dataset.name}.csv" in readme
    assert "- occurred_at: occurred at" in readme and "- behaviour__name_en: behaviour › name (English)" in readme


def test_the_readme_is_in_the_residents_language():
    resident = ResidentFactory(language="zh-hans")
    readme = zipfile.ZipFile(io.BytesIO(export_archive(resident=resident, now=timezone.now()))).read("README.txt")
    text = readme.decode()
    assert text.startswith("城市积分：我们保存的有关您的全部数据") and "ledger_entries.csv" in text


def test_request_build_download_and_expiry(client, private_root, django_capture_on_commit_callbacks):
    resident = ResidentFactory()
    client.force_login(resident.user)
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly once the request commits
        response = client.post(reverse("rights_export"))
    assert response.status_code == 302
    export = ExportRequest.objects.get(resident=resident)
    assert export.status == "ready" and export.expires_at - export.ready_at == datetime.timedelta(days=7)
    path = private_root / export.file_name
    assert path.exists() and not str(path).startswith(str(settings.MEDIA_ROOT))

    page = client.get(reverse("rights_export"))
    assert reverse("rights_export_download", args=[export.pk]) in page.content.decode()
    download = client.get(reverse("rights_export_download", args=[export.pk]))
    assert download["Content-Type"] == "application/zip" and "attachment" in download["Content-Disposition"]
    assert "data.json" in zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()

    # Someone else cannot download it, even knowing its id; nor can anyone signed out.
    other = client.__class__()
    other.force_login(ResidentFactory().user)
    assert other.get(reverse("rights_export_download", args=[export.pk])).status_code == 404
    assert client.__class__().get(reverse("rights_export_download", args=[export.pk])).status_code == 302

    # The nightly task deletes it after 7 days; the link then says so.
    assert exports_expire(now=timezone.now() + datetime.timedelta(days=6)) == 0
    assert exports_expire(now=timezone.now() + datetime.timedelta(days=7, minutes=1)) == 1
    assert not path.exists()
    export.refresh_from_db()
    assert (export.status, export.file_name) == ("expired", "")
    gone = client.get(reverse("rights_export_download", args=[export.pk]))
    assert gone.status_code == 302 and gone.url == reverse("rights_export")


def test_a_second_request_while_one_is_pending_returns_it(client, private_root):
    resident = ResidentFactory()
    client.force_login(resident.user)
    client.post(reverse("rights_export"))  # on_commit never runs inside the test transaction: it stays pending
    client.post(reverse("rights_export"))
    assert ExportRequest.objects.filter(resident=resident, status="pending").count() == 1
    export = export_build(export_id=ExportRequest.objects.get().pk)
    assert export.status == "ready"
    assert export_build(export_id=export.pk).file_name == export.file_name  # idempotent


def test_leaving_deletes_exports_and_their_files(client, private_root, django_capture_on_commit_callbacks):
    from citizenpoints.services.leaving import resident_leave

    resident = ResidentFactory()
    client.force_login(resident.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rights_export"))
    name = ExportRequest.objects.get().file_name
    assert private_storage().exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        resident_leave(resident=resident, acting_user=resident.user)
    assert not ExportRequest.objects.exists() and not private_storage().exists(name)
