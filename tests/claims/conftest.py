import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from citizenpoints.models import DataSource
from citizenpoints.services.scoring import local_zone
from tests.factories import published_catalogue


@pytest.fixture(autouse=True)
def private_root(tmp_path, settings):
    """Evidence goes to a temporary private folder, outside MEDIA_ROOT as in production."""
    settings.STORAGES = {**settings.STORAGES, "private": {**settings.STORAGES["private"]}}
    settings.STORAGES["private"]["OPTIONS"] = {"location": tmp_path / "private"}
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "private"


def jpeg_bytes(size=(640, 480), color=(30, 120, 200), exif=None, **save) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, color).save(output, format="JPEG", exif=exif or Image.Exif(), **save)
    return output.getvalue()


def upload(content: bytes | None = None, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, content if content is not None else jpeg_bytes(), content_type=content_type)


@pytest.fixture
def claims_source() -> DataSource:
    return DataSource.objects.get(code="claims")


@pytest.fixture
def catalogue(claims_source):
    """Published: two claimable behaviours (one fixed with a monthly cap, one per hour), one claimable but from a
    department only, and one that needs no evidence."""
    library = DataSource.objects.get_or_create(code="library", defaults={"name_en": "Library", "name_zh": "图书馆"})[0]
    return published_catalogue(
        behaviours=[
            {
                "code": "neighbour-help",
                "category": "community-care",
                "name_en": "Helping a neighbour",
                "name_zh": "邻里互助",
                "evidence_required": True,
                "rule": {"points": "2"},
                "cap_per_month": 4,
                "sources": [claims_source],
            },
            {
                "code": "street-clean",
                "category": "environment",
                "name_en": "Clearing litter",
                "name_zh": "清理垃圾",
                "evidence_required": True,
                "rule_kind": "per_unit",
                "rule": {"unit": "hour", "steps": [[None, 1]]},
                "sources": [claims_source],
            },
            {"code": "museum-visit", "evidence_required": True, "sources": [library]},
            {"code": "library-loan", "evidence_required": False, "sources": [library, claims_source]},
        ]
    )


def hours_ago(hours: float) -> datetime.datetime:
    return (timezone.now() - datetime.timedelta(hours=hours)).astimezone(local_zone())
