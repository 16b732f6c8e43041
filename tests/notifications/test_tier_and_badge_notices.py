"""Tier changes and badges tell the resident, through every path that records them: the per-record award, a
department batch, the nightly ageing, and a tier scheme switch. The bulk paths write their notices set-based: the
number of queries does not grow with the number of residents."""

import datetime

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from citizenpoints.models import CardLink, Notification, ScoringWindow, TierChange, TierScheme
from citizenpoints.services.ingest import batch_process, batch_receive, card_hash
from citizenpoints.services.nightly import nightly_pass
from citizenpoints.services.notifications import notices_word
from citizenpoints.services.tiers import tier_scheme_switch
from tests.factories import ResidentFactory, UserFactory
from tests.notifications.conftest import NOW, grant

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def kinds(resident) -> list[str]:
    return list(Notification.objects.filter(resident=resident).order_by("id").values_list("kind", flat=True))


def worded(notice, language="en"):
    with translation.override(language):
        return notices_word([notice])[0]


def test_an_award_that_moves_the_resident_up_tells_them_once(frozen, catalogue):
    resident = ResidentFactory()
    grant(resident, "v1", code="volunteer")
    grant(resident, "l1")  # still "Good": no second notice
    notice = Notification.objects.get(resident=resident)
    assert notice.kind == Kind.TIER_CHANGED
    change = TierChange.objects.get(resident=resident, cause="points")
    assert notice.params == {"from_tier_id": change.from_tier_id, "to_tier_id": change.to_tier_id, "cause": "points"}
    assert worded(notice).title == "You reached Good"
    assert worded(notice, "zh-hans").title == "你已达到良好"


def test_a_rolled_back_award_tells_nobody(frozen, catalogue):
    resident = ResidentFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        grant(resident, "v1", code="volunteer")
        raise RuntimeError("the caller failed after the award")
    assert not Notification.objects.exists()


def test_a_badge_earned_by_single_awards_is_told_once(frozen, catalogue):
    resident = ResidentFactory()
    for n in range(11):
        grant(resident, f"h{n}", code="helping", occurred_at=NOW - datetime.timedelta(days=n, hours=1))
    badge_notices = Notification.objects.filter(resident=resident, kind=Kind.BADGE_EARNED)
    assert badge_notices.count() == 1
    assert worded(badge_notices.get()).title == "You earned a badge: 💝 Love messenger"
    assert worded(badge_notices.get(), "zh-hans").title == "你获得了徽章：💝 爱心使者"


def _batch(library, records, key="b1"):
    received = batch_receive(source=library, idempotency_key=key, records=records)
    return batch_process(batch_id=received.batch.pk)


def _linked_residents(count: int, prefix: str):
    residents = []
    for n in range(count):
        resident = ResidentFactory()
        CardLink.objects.create(resident=resident, card_hash=card_hash(f"{prefix}{n:04d}"))
        residents.append(resident)
    return residents


def _records(prefix: str, count: int, *, tier=True, badge=True):
    """Per resident: a 60-point record (up to Good) and ten 1-point volunteering records (Love messenger)."""
    records = []
    for n in range(count):
        card = f"{prefix}{n:04d}"
        day = "2026-11-20T09:00:00+08:00"
        if tier:
            records.append({"external_id": f"{card}-v", "card_number": card, "behaviour_code": "volunteer",
                            "occurred_at": day})  # fmt: skip
        if badge:
            for k in range(10):
                records.append({"external_id": f"{card}-h{k}", "card_number": card, "behaviour_code": "helping",
                                "occurred_at": f"2026-11-{10 + k}T09:00:00+08:00"})  # fmt: skip
    return records


def test_a_department_batch_tells_of_tier_changes_and_badges_but_not_each_point(frozen, catalogue, library):
    climber, helper, reader = _linked_residents(3, "CARD")
    records = _records("CARD", 1, badge=False)  # the climber: up to Good
    records += [r for r in _records("CARD", 2, tier=False) if r["card_number"] == "CARD0001"]  # the helper: a badge
    records.append({"external_id": "r1", "card_number": "CARD0002", "behaviour_code": "loan",
                    "occurred_at": "2026-11-20T09:00:00+08:00"})  # fmt: skip
    _batch(library, records)

    assert kinds(climber) == [Kind.TIER_CHANGED]
    notice = Notification.objects.get(resident=climber)
    assert notice.params["cause"] == "points"
    assert worded(notice).title == "You reached Good"
    assert kinds(helper) == [Kind.BADGE_EARNED]
    assert worded(Notification.objects.get(resident=helper)).title == "You earned a badge: 💝 Love messenger"
    assert kinds(reader) == []  # points alone wait for the daily digest


def test_a_re_sent_batch_tells_nothing_twice(frozen, catalogue, library):
    (climber,) = _linked_residents(1, "CARD")
    records = _records("CARD", 1)
    _batch(library, records, key="first")
    _batch(library, records, key="again")
    assert sorted(kinds(climber)) == sorted([Kind.TIER_CHANGED, Kind.BADGE_EARNED])


def _queries(action) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


def test_a_batch_writes_its_notices_in_the_same_number_of_queries_for_2_or_8_residents(frozen, catalogue, library):
    _linked_residents(2, "AAAA")
    _linked_residents(8, "BBBB")
    received_small = batch_receive(source=library, idempotency_key="small", records=_records("AAAA", 2))
    received_large = batch_receive(source=library, idempotency_key="large", records=_records("BBBB", 8))
    small = _queries(lambda: batch_process(batch_id=received_small.batch.pk))
    large = _queries(lambda: batch_process(batch_id=received_large.batch.pk))
    assert Notification.objects.filter(kind=Kind.TIER_CHANGED).count() == 10
    assert Notification.objects.filter(kind=Kind.BADGE_EARNED).count() == 10
    assert small == large


def test_points_ageing_out_lower_the_tier_kindly(catalogue, library):
    with time_machine.travel(NOW - datetime.timedelta(days=360), tick=False):
        ScoringWindow.objects.update(
            starts_at=NOW - datetime.timedelta(days=800), aged_at=NOW - datetime.timedelta(days=360)
        )
        resident = ResidentFactory(language="zh-hans")
        grant(resident, "v1", code="volunteer", occurred_at=NOW - datetime.timedelta(days=360))
    with time_machine.travel(NOW + datetime.timedelta(days=10), tick=False):
        nightly_pass()
    notice = Notification.objects.filter(resident=resident).latest("id")
    assert notice.kind == Kind.TIER_CHANGED and notice.params["cause"] == "ageing"
    english = worded(notice)
    assert english.title == "Your tier is now Getting started"
    assert english.body == [
        "Points from over a year ago have aged out; you are now in Getting started.",
        "Every point you earn counts towards moving up again.",
    ]
    assert worded(notice, "zh-hans").title == "你现在的等级是起步"


def test_a_scheme_switch_tells_every_resident_once_with_the_reason(frozen):
    residents = ResidentFactory.create_batch(3)
    editor = UserFactory(roles=["catalogue_editor"])
    tier_scheme_switch(
        acting_user=editor, scheme=TierScheme.objects.get(code="grades"), reason="Council decision 2026/14"
    )
    for resident in residents:
        notice = Notification.objects.get(resident=resident)
        assert notice.params["cause"] == "scheme" and notice.params["reason"] == "Council decision 2026/14"
        text = worded(notice)
        assert text.title == "New tier scheme: you are in D · Starting out"
        assert text.body[-1] == "The credit office says: Council decision 2026/14"
        assert text.url == "/tiers/"


def test_a_scheme_switch_takes_the_same_number_of_queries_for_2_or_8_residents():
    editor = UserFactory(roles=["catalogue_editor"])
    ResidentFactory.create_batch(2)
    grades, bands = TierScheme.objects.get(code="grades"), TierScheme.objects.get(code="five-bands")
    small = _queries(lambda: tier_scheme_switch(acting_user=editor, scheme=grades, reason="Trying grades"))
    ResidentFactory.create_batch(6)
    large = _queries(lambda: tier_scheme_switch(acting_user=editor, scheme=bands, reason="Back to bands"))
    assert Notification.objects.count() == 2 + 8
    assert small == large
