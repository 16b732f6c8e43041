import datetime

import pytest
import time_machine

from citizenpoints.models import DataSource
from citizenpoints.services.awards import award_grant
from tests.factories import published_catalogue

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)  # 18:00 in Shanghai


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def library():
    return DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")


@pytest.fixture
def catalogue(library):
    """Five-bands scheme (base 500; "Good" from 550): one volunteering record of 60 points moves a resident up."""
    return published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "loan", "name_en": "Library loan", "name_zh": "图书借阅", "rule": {"points": 1}},
            {"code": "volunteer", "name_en": "Volunteering", "name_zh": "志愿服务", "category": "volunteering",
             "rule": {"points": 60}},
            {"code": "helping", "name_en": "Helping out", "name_zh": "帮忙", "category": "volunteering",
             "rule": {"points": 1}},
        ],
    )  # fmt: skip


def grant(resident, external_id, code="loan", occurred_at=None, **kwargs):
    return award_grant(
        resident=resident,
        behaviour_code=code,
        source=DataSource.objects.get(code="library"),
        external_id=external_id,
        occurred_at=occurred_at or datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1),
        **kwargs,
    )
