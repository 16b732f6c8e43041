"""The demo's claims: filed and decided through the services, photos drawn by Pillow and stripped, loaded once."""

import io

import pytest
from PIL import Image

from citizenpoints.claims_demo import claims_demo_load
from citizenpoints.management.commands.load_demo import DEMO_DOMAIN
from citizenpoints.models import Claim, OfficeRole
from citizenpoints.services.evidence import private_storage
from tests.factories import ResidentFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_demo_claims_are_filed_once_with_clean_photos(catalogue):
    li_na = ResidentFactory(user__email=f"li.na@{DEMO_DOMAIN}", language="zh-hans")
    UserFactory(email=f"reviewer@{DEMO_DOMAIN}", roles=[OfficeRole.REVIEWER], mfa=True)

    added = claims_demo_load()

    # The demo catalogue's "neighbour-help" is in this test's catalogue; "lost-property-returned" is not.
    assert [(claim.resident, claim.behaviour.code, claim.status) for claim in added] == [
        (li_na, "neighbour-help", Claim.Status.PENDING)
    ]
    photo = added[0].photos.get()
    with private_storage().open(photo.file_name, "rb") as stored:
        image = Image.open(io.BytesIO(stored.read()))
        assert not image.getexif() and image.size == (photo.width, photo.height)
    assert claims_demo_load() == []  # loading again adds nothing
