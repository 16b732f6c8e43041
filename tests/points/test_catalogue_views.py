"""The public catalogue and tier pages through the test client: no login, both languages, rules in plain words."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from citizenpoints.models import Behaviour, DataSource, TierScheme
from citizenpoints.services.scoring import scheme_activate
from tests.factories import published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans,zh;q=0.9"}


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def catalogue():
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    return published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "name_en": "Library loan", "name_zh": "图书借阅",
             "description_en": "Borrow a book from any city library.", "description_zh": "在市内任一图书馆借书。",
             "rule": {"points": 1}, "cap_per_day": 3, "cap_per_month": 10},
            {"code": "volunteer-hours", "category": "volunteering", "name_en": "Volunteering", "name_zh": "志愿服务",
             "rule_kind": "per_unit", "rule": {"unit": "hour", "steps": [[20, 1], [80, 2], [None, 4]]},
             "cap_per_year": 200, "evidence_required": True},
            {"code": "donation", "category": "charity", "name_en": "Charitable donation", "name_zh": "慈善捐款",
             "rule_kind": "amount_bands", "rule": {"unit": "yuan", "bands": [[1000, 10000, 5], [10000, None, 10]]}},
        ],
    )  # fmt: skip


def main(response) -> str:
    page = response.content.decode()
    return page[page.index("<main") : page.index("</main>")]


def test_the_catalogue_is_public_grouped_by_category_with_rules_in_plain_words(client, catalogue):
    response = client.get(reverse("catalogue"))
    assert response.status_code == 200
    page = main(response)
    assert "Catalogue version 1, published Nov. 21, 2026." in page
    # Categories in the office's order, each behaviour under its own.
    assert (
        page.index("Volunteering</h2>") < page.index("Reading and culture</h2>") < page.index("Charitable giving</h2>")
    )
    assert "Borrow a book from any city library." in page
    assert "1 point per record" in page
    assert "At most 3 points a day, 10 a month" in page
    assert (
        "1 point per hour up to 20 hours a year, then 1 point per 2 hours up to 80 hours, "
        "then 1 point per 4 hours beyond that" in page
    )
    assert "At most 200 points a year" in page
    assert "5 points for 1,000–10,000 yuan, 10 points for 10,000 yuan or more; less than 1,000 yuan earns" in page
    assert "Needed if you claim it yourself: send photos" in page and "Not needed: the department reports it." in page
    assert "City Library" in page
    assert 'style="' not in response.content.decode()


def test_the_catalogue_in_chinese(client, catalogue):
    page = main(client.get(reverse("catalogue"), **CHINESE))
    assert "目录第 1 版" in page
    assert "图书借阅" in page and "在市内任一图书馆借书。" in page and "阅读与文化" in page
    assert "每条记录 1 分" in page
    assert "每天最多 3 分，每月最多 10 分" in page
    assert "每年前 20 小时：每小时 1 分；累计至 80 小时：每 2 小时 1 分；超出部分：每 4 小时 1 分" in page
    assert "1000–10000 元：5 分" in page
    assert "市图书馆" in page


def test_only_the_published_version_is_shown(client, catalogue):
    published_catalogue(behaviours=[{"code": "museum-visit", "name_en": "Museum visit"}])
    page = main(client.get(reverse("catalogue")))
    assert "Catalogue version 2" in page and "Museum visit" in page
    assert "Library loan" not in page


def test_before_any_catalogue_is_published(client):
    page = main(client.get(reverse("catalogue")))
    assert "has not published a catalogue yet" in page


def test_catalogue_queries_do_not_grow_with_behaviours(client, catalogue):
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("catalogue"))
    for n in range(30):
        behaviour = Behaviour.objects.create(
            version=catalogue, code=f"extra-{n}", category_id=1, name_en=f"Extra {n}", name_zh=f"额外 {n}",
            rule_kind="fixed", rule={"points": 1},
        )  # fmt: skip
        behaviour.sources.set(DataSource.objects.all())
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("catalogue"))
    assert len(small.captured_queries) == len(large.captured_queries)


def test_the_tier_page_shows_the_scheme_ranges_an_empty_benefit_slot_and_badges(client):
    response = client.get(reverse("tiers"))
    assert response.status_code == 200
    page = main(response)
    assert "a base score of 500 plus the points you earned in the last 12 months" in page
    assert "Five bands" in page
    # The lowest band starts at the base score: nobody's score is lower.
    assert "Score from 500 to under 550" in page and "everyone starts here" in page
    assert "Score from 700 to under 750" in page and "Score of 750 or more" in page
    assert page.count("Benefits unlocked at this tier") == 5
    assert page.count("will list the benefits for this tier here") == 5
    assert "Love messenger" in page
    assert "Rule: at least 10 records in Volunteering or Blood donation in the last 365 days." in page


def test_the_tier_page_follows_the_active_scheme_in_chinese(client):
    scheme_activate(scheme=TierScheme.objects.get(code="grades"))
    page = main(client.get(reverse("tiers"), **CHINESE))
    assert "基础分 1000" in page
    assert "AAA" in page and "卓越" in page
    assert "分数 1000 至不足 1030" in page and "分数 1200 及以上" in page
    assert page.count("本等级可享权益") == 6
    assert "爱心使者" in page and "规则：最近 365 天内志愿服务或无偿献血记录至少 10 条。" in page


def test_public_pages_are_in_the_navigation_and_linked_from_the_landing_page(client):
    page = client.get(reverse("landing")).content.decode()
    assert page.count(f'href="{reverse("catalogue")}"') == 2  # header and the landing page
    assert page.count(f'href="{reverse("tiers")}"') == 2
    page = client.get(reverse("tiers")).content.decode()
    assert f'href="{reverse("tiers")}" aria-current="page"' in page
