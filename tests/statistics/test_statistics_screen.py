"""The statistics screen and its CSV exports: who may read them, what they show, what they cost."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from citizenpoints.models import AuditEvent, OfficeRole
from citizenpoints.services.permissions import PermissionRefused
from citizenpoints.statistics import Period, statistics, statistics_compute
from tests.factories import ResidentFactory, UserFactory
from tests.statistics.conftest import build_known_data

pytestmark = pytest.mark.django_db

STAFF = [*[[role] for role in OfficeRole], "superuser"]


def staff(roles):
    if roles == "superuser":
        return UserFactory(is_superuser=True, is_staff=True, mfa=True)
    return UserFactory(roles=roles, mfa=True)


@pytest.mark.parametrize("roles", STAFF, ids=lambda roles: roles if isinstance(roles, str) else roles[0])
def test_every_office_role_reads_the_statistics_and_their_exports(client, roles):
    client.force_login(staff(roles))
    assert client.get("/office/statistics/").status_code == 200
    for statistic in statistics():
        response = client.get(f"/office/statistics/{statistic.key}.csv")
        assert response.status_code == 200, statistic.key


def test_residents_staff_without_a_role_and_strangers_are_refused(client):
    resident = ResidentFactory()
    client.force_login(resident.user)
    assert client.get("/office/statistics/").status_code == 403
    assert client.get("/office/statistics/appeals.csv").status_code == 403
    client.force_login(UserFactory(is_staff=True, mfa=True))
    assert client.get("/office/statistics/").status_code == 403
    client.logout()
    response = client.get("/office/statistics/ingest.csv")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_service_refuses_anyone_without_an_office_role():
    resident = ResidentFactory()
    with pytest.raises(PermissionRefused) as refused:
        statistics_compute(acting_user=resident.user, period=Period.last_months(12))
    assert refused.value.code == "permission_denied"
    denial = AuditEvent.objects.get(object_type="denial", object_id="statistics")
    assert (denial.actor, denial.action) == (resident.user, "permission.denied")


def test_an_unknown_statistic_is_not_found(client):
    client.force_login(staff([OfficeRole.AUDITOR]))
    assert client.get("/office/statistics/nothing-here.csv").status_code == 404


def test_the_screen_shows_each_chart_with_its_numbers_and_export(client, known_data):
    client.force_login(staff([OfficeRole.AUDITOR]))
    response = client.get("/office/statistics/")
    html = response.content.decode()
    for statistic in statistics():
        assert f'id="{statistic.key}"' in html
        assert f"/office/statistics/{statistic.key}.csv?since=2025-12-01&amp;until=2026-11-21" in html
    assert html.count('role="img"') == len(statistics())
    assert html.count("<details") >= len(statistics())
    assert "style=" not in html
    assert "<script" not in html
    assert "Overdue now" in html
    assert "Love messenger" in html and "City Bikes" in html


def test_the_screen_reads_in_chinese(client, known_data):
    client.force_login(staff([OfficeRole.REVIEWER]))
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/office/statistics/", headers={"accept-language": "zh-hans"}).content.decode()
    assert "志愿服务" in html and "城市单车" in html and "10月" in html


def test_a_chosen_period_shows_and_exports_those_dates(client, known_data):
    client.force_login(staff([OfficeRole.AUDITOR]))
    query = "since=2025-11-01&until=2026-10-31"
    html = client.get(f"/office/statistics/?{query}").content.decode()
    assert "since=2025-11-01&amp;until=2026-10-31" in html
    response = client.get(f"/office/statistics/points-by-category.csv?{query}")
    assert 'filename="points-by-category-20251101-20261031.csv"' in response["Content-Disposition"]
    months = [row[0] for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))][1:]
    assert months == ["2025-11", "2026-10", "2026-10"]


def test_a_reversed_or_overlong_period_is_explained_and_the_default_shown(client, known_data):
    client.force_login(staff([OfficeRole.AUDITOR]))
    html = client.get("/office/statistics/?since=2026-10-01&until=2026-09-01").content.decode()
    assert "The first day must come before the last." in html
    assert "since=2025-12-01&amp;until=2026-11-21" in html
    html = client.get("/office/statistics/?since=2016-10-01&until=2026-09-01").content.decode()
    assert "Choose at most five years." in html
    html = client.get("/office/statistics/?since=yesterday").content.decode()
    assert "since=2025-12-01&amp;until=2026-11-21" in html


def test_a_csv_export_opens_in_a_spreadsheet_with_chinese_intact(client, known_data):
    client.force_login(staff([OfficeRole.PARTNER_MANAGER]))
    response = client.get("/office/statistics/points-by-category.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="points-by-category-20251201-20261121.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")  # the byte order mark Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["month", "category", "category_en", "category_zh", "awards", "awarded", "reversed", "net"]
    assert rows[1] == ["2026-10", "volunteering", "Volunteering", "志愿服务", "1", "5.00", "5.00", "0.00"]
    assert len(rows) == 5

    appeals = list(csv.reader(io.StringIO(client.get("/office/statistics/appeals.csv").content.decode("utf-8-sig"))))
    assert appeals[0] == [
        "month", "received", "open", "overdue", "decided", "granted", "refused", "median_days",
    ]  # fmt: skip
    assert appeals[-2] == ["2026-10", "3", "0", "0", "2", "1", "1", "3.00"]
    assert appeals[1][-1] == ""  # no decision that month: no median, rather than a misleading 0

    benefits = client.get("/office/statistics/benefits-redeemed.csv").content.decode("utf-8-sig")
    assert "city-bikes,City Bikes,城市单车,go,Go,出行" in benefits

    tiers = client.get("/office/statistics/residents-by-tier.csv")
    assert 'filename="residents-by-tier-20261121.csv"' in tiers["Content-Disposition"]  # now, not a period


def test_the_screen_makes_the_same_queries_however_much_there_is(client, reviewer):
    client.force_login(staff([OfficeRole.AUDITOR]))
    client.get("/office/statistics/")  # sessions, content types and the like warm up
    with CaptureQueriesContext(connection) as empty:
        assert client.get("/office/statistics/").status_code == 200
    build_known_data(reviewer)
    with CaptureQueriesContext(connection) as full:
        assert client.get("/office/statistics/").status_code == 200
    assert len(full) == len(empty)
    assert len(full) <= 40
