import datetime

import pytest

from citizenpoints.models import DataSource, OfficeRole
from citizenpoints.services.awards import award_grant
from tests.factories import ResidentFactory, UserFactory, published_catalogue

# A Monday in the office's time zone (Asia/Shanghai), mid-morning.
MONDAY_10AM = datetime.datetime(2026, 11, 16, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))


@pytest.fixture
def library(db):
    return DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")


@pytest.fixture
def catalogue(library):
    return published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "rule": {"points": 2}, "cap_per_day": 4},
            {"code": "volunteer-hours", "category": "volunteering", "rule_kind": "per_unit",
             "rule": {"unit": "hour", "steps": [[20, 1], [80, 2], [200, 3], [None, 4]]}},
            {"code": "neighbour-help", "rule": {"points": 3}, "evidence_required": True,
             "sources": [DataSource.objects.get(code="claims")]},
        ],
    )  # fmt: skip


@pytest.fixture
def resident(catalogue):
    return ResidentFactory()


@pytest.fixture
def reviewer(db):
    return UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)


@pytest.fixture
def second_reviewer(db):
    return UserFactory(roles=[OfficeRole.REVIEWER], mfa=True)


def award(resident, external_id, *, when, code="library-loan", **kwargs):
    return award_grant(
        resident=resident,
        behaviour_code=code,
        source=DataSource.objects.get(code="library"),
        external_id=external_id,
        occurred_at=when,
        **kwargs,
    ).entry
