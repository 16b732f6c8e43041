"""Each statistic's numbers on the known dataset (tests/statistics/conftest.py), and the period they cover."""

import datetime
from decimal import Decimal

import pytest

from citizenpoints.models import Appeal, IngestRecord
from citizenpoints.statistics import (
    Period,
    median_days,
    median_days_portable,
    month_of,
    statistics,
    statistics_compute,
)
from tests.factories import ResidentFactory

pytestmark = pytest.mark.django_db

OCTOBER, NOVEMBER = datetime.date(2026, 10, 1), datetime.date(2026, 11, 1)


def compute(user, key, period=None):
    (result,) = statistics_compute(acting_user=user, period=period or Period.last_months(12), keys=[key])
    return result


def figures(result) -> dict:
    return {str(figure.label): figure.value for figure in result.figures}


def test_every_statistic_is_registered_in_order():
    assert [statistic.key for statistic in statistics()] == [
        "points-by-category",
        "residents-by-tier",
        "badges",
        "benefits-redeemed",
        "appeals",
        "claims",
        "ingest",
    ]


def test_the_default_period_is_this_month_and_the_eleven_before():
    period = Period.last_months(12)
    assert (period.since, period.until) == (datetime.date(2025, 12, 1), datetime.date(2026, 11, 21))
    assert len(period.months()) == 12


def test_points_by_category_per_local_month(known_data, reviewer):
    result = compute(reviewer, "points-by-category")
    assert [
        (row["month"], row["category"], row["awards"], row["awarded"], row["reversed"], row["net"])
        for row in result.rows
    ] == [
        # The shift at 23:30 on 31 October and its reversal (dated as the award) net to nothing in October.
        (OCTOBER, "volunteering", 1, Decimal(5), Decimal(5), Decimal(0)),
        (OCTOBER, "reading-culture", 1, Decimal(1), Decimal(0), Decimal(1)),
        # 00:30 on 1 November local time is still 31 October in UTC: it counts in November.
        (NOVEMBER, "volunteering", 1, Decimal(5), Decimal(0), Decimal(5)),
        (NOVEMBER, "reading-culture", 1, Decimal(1), Decimal(0), Decimal(1)),
    ]
    assert (result.rows[0]["category_en"], result.rows[0]["category_zh"]) == ("Volunteering", "志愿服务")
    assert figures(result) == {"Points awarded": Decimal(12), "Points reversed": Decimal(5), "Awards": 4}


def test_residents_per_tier_counts_members_and_former_residents_apart(known_data, reviewer):
    result = compute(reviewer, "residents-by-tier")
    assert [(row["tier"], row["residents"], row["left"]) for row in result.rows] == [
        ("getting-started", 1, 0),
        ("good", 1, 1),
        ("very-good", 0, 0),
        ("outstanding", 0, 0),
        ("excellent", 0, 0),
    ]
    assert figures(result) == {"Residents in the programme": 2, "Former residents (anonymous)": 1}


def test_badges_per_month_and_held(known_data, reviewer):
    result = compute(reviewer, "badges")
    assert [(row["month"], row["badge"], row["earned"]) for row in result.rows] == [
        (OCTOBER, "love-messenger", 1),
        (NOVEMBER, "love-messenger", 1),
    ]
    assert figures(result) == {
        "Badges earned in these dates": 2,
        "Badges held now": 3,
        "Residents holding a badge": 2,
    }


def test_benefits_redeemed_by_partner_and_family(known_data, reviewer):
    result = compute(reviewer, "benefits-redeemed")
    assert [(row["merchant"], row["family"], row["redemptions"]) for row in result.rows] == [
        ("city-bikes", "go", 2),
        ("city-bikes", "travel", 1),
        ("museum", "culture", 1),
    ]
    assert (result.rows[2]["merchant_zh"], result.rows[2]["family_en"]) == ("市博物馆", "Culture")
    assert figures(result) == {"Benefits redeemed": 4, "Partners with a redemption": 2}


def test_appeals_received_decided_overdue_and_median_time(known_data, reviewer):
    result = compute(reviewer, "appeals")
    by_month = {row["month"]: row for row in result.rows}
    assert len(result.rows) == 12  # every month of the period, empty ones too
    october, november = by_month[OCTOBER], by_month[NOVEMBER]
    assert {key: october[key] for key in ("received", "open", "overdue", "decided", "granted", "refused")} == {
        "received": 3, "open": 0, "overdue": 0, "decided": 2, "granted": 1, "refused": 1,
    }  # fmt: skip
    assert october["median_days"] == pytest.approx(3.0)  # 2 and 4 days: the two middle values averaged
    assert {key: november[key] for key in ("received", "open", "overdue", "decided", "granted", "refused")} == {
        "received": 2, "open": 2, "overdue": 1, "decided": 1, "granted": 1, "refused": 0,
    }  # fmt: skip
    assert november["median_days"] == pytest.approx(16.0)
    assert by_month[datetime.date(2026, 9, 1)]["median_days"] is None
    summary = figures(result)
    assert summary.pop("Median time to decision") == pytest.approx(4.0)  # 2, 4, 16
    # Open and overdue now count every open appeal, also the one filed before the period.
    assert summary == {"Received": 5, "Decided": 3, "Open now": 3, "Overdue now": 2}


def test_claims_filed_and_decided(known_data, reviewer):
    result = compute(reviewer, "claims")
    by_month = {row["month"]: row for row in result.rows}
    assert (by_month[OCTOBER]["filed"], by_month[OCTOBER]["approved"], by_month[OCTOBER]["rejected"]) == (2, 1, 0)
    assert (by_month[NOVEMBER]["filed"], by_month[NOVEMBER]["approved"], by_month[NOVEMBER]["rejected"]) == (1, 0, 1)
    assert figures(result) == {"Filed": 3, "Approved": 1, "Not approved": 1, "Waiting for review now": 1}


def test_ingest_volumes_and_refusals_by_source(known_data, reviewer):
    result = compute(reviewer, "ingest")
    assert [(row["source"], row["result"], row["records"]) for row in result.rows] == [
        ("library", "accepted", 3),
        ("library", "unknown_card", 2),
        ("library", "duplicate", 1),
        ("metro", "accepted", 2),
        ("metro", "pending", 2),  # a batch not processed yet: its records wait
        ("metro", "cap_reached", 1),
    ]  # the upload still in preview is not counted, nor the batch before the period
    assert (result.rows[1]["result_en"], result.rows[1]["result_zh"]) == ("Unknown card", "未知市民卡")
    assert figures(result) == {"Records received": 11, "Accepted": 5, "Refused": 4}
    # Read from each batch's results by outcome: the figures outlive the records the retention purge deletes.
    IngestRecord.objects.all().delete()
    assert compute(reviewer, "ingest").rows == result.rows


def test_a_chosen_period_moves_every_dated_statistic(known_data, reviewer):
    period = Period(since=datetime.date(2025, 11, 1), until=datetime.date(2026, 10, 31))
    points = compute(reviewer, "points-by-category", period)
    assert [(row["month"], row["category"], row["awarded"]) for row in points.rows] == [
        (datetime.date(2025, 11, 1), "reading-culture", Decimal(1)),
        (OCTOBER, "volunteering", Decimal(5)),
        (OCTOBER, "reading-culture", Decimal(1)),
    ]
    assert [row["month"] for row in compute(reviewer, "appeals", period).rows][-1] == OCTOBER
    assert figures(compute(reviewer, "benefits-redeemed", period))["Benefits redeemed"] == 1
    assert figures(compute(reviewer, "ingest", period))["Records received"] == 6  # October only
    # A day's edge is the office's midnight: the last of October ends at 24:00 local time.
    one_day = Period(since=datetime.date(2026, 10, 31), until=datetime.date(2026, 10, 31))
    assert [row["category"] for row in compute(reviewer, "points-by-category", one_day).rows] == ["volunteering"]
    # Residents per tier is a picture of now: the same whatever the dates.
    assert compute(reviewer, "residents-by-tier", period).rows == compute(reviewer, "residents-by-tier").rows


def test_an_empty_database_gives_empty_statistics(reviewer):
    results = statistics_compute(acting_user=reviewer, period=Period.last_months(12))
    by_key = {result.statistic.key: result for result in results}
    assert by_key["points-by-category"].rows == []
    assert all(row["received"] == 0 and row["median_days"] is None for row in by_key["appeals"].rows)
    assert figures(by_key["appeals"])["Median time to decision"] is None


@pytest.mark.postgres
def test_postgresql_percentile_and_the_portable_median_agree(reviewer):
    """percentile_cont(0.5) on PostgreSQL, window functions elsewhere: the same exact median, odd or even counts."""
    resident = ResidentFactory()
    start = datetime.datetime(2026, 9, 1, 9, 0, tzinfo=datetime.UTC)
    hours = datetime.timedelta(hours=1)
    durations = {
        0: [1 * hours, 5 * hours, 72 * hours, 240 * hours],
        30: [48 * hours, 48 * hours, 169 * hours],
        61: [1.5 * hours],
    }
    for offset, spans in durations.items():
        for span in spans:
            filed = start + datetime.timedelta(days=offset)
            Appeal.objects.create(
                resident=resident, subject=Appeal.Subject.ENTRY, statement="Look again.", status="refused",
                filed_at=filed, due_on=filed.date(), decided_at=filed + span, decided_by=reviewer,
                decision_reason="No.",
            )  # fmt: skip
    decided = Appeal.objects.annotate(month=month_of("decided_at"))
    by_month = median_days(decided, "filed_at", "decided_at", "month")
    assert by_month == pytest.approx(median_days_portable(decided, "filed_at", "decided_at", "month"))
    assert sorted(by_month.values()) == pytest.approx([0.0625, (5 / 24 + 3) / 2, 2.0])
    overall = median_days(Appeal.objects.all(), "filed_at", "decided_at")
    assert overall == pytest.approx(median_days_portable(Appeal.objects.all(), "filed_at", "decided_at"))
    assert overall[None] == pytest.approx(2.0)
    assert median_days(Appeal.objects.none(), "filed_at", "decided_at") == {None: None}


def test_month_ranges_are_local_midnights_cut_to_the_period():
    period = Period(since=datetime.date(2026, 10, 15), until=datetime.date(2026, 11, 3))
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    assert period.month_ranges() == [
        (datetime.datetime(2026, 10, 15, tzinfo=shanghai), datetime.datetime(2026, 11, 1, tzinfo=shanghai)),
        (datetime.datetime(2026, 11, 1, tzinfo=shanghai), datetime.datetime(2026, 11, 4, tzinfo=shanghai)),
    ]
    assert period.months() == [OCTOBER, NOVEMBER]
