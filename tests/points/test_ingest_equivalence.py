"""One rule, one place: every case gives the same outcome and points through the per-record award service and
through the set-based batch pipeline. Codes differ only where the channels name things differently."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils.dateparse import parse_datetime

from citizenpoints.models import CardLink, DataSource, IngestRecord, LedgerEntry, Resident
from citizenpoints.services.awards import AwardRefused, award_grant
from citizenpoints.services.ingest import batch_process, batch_receive, card_hash, record_parse
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.scoring import balances_verify
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
AT = "2026-11-20T09:00:00+08:00"
# award_grant speaks of residents and Python datetimes; a department sends cards and text.
SAME_MEANING = {"unknown_resident": "unknown_card", "naive_datetime": "malformed"}


def rec(external_id, behaviour="loan", card="CARD0001", at=AT, **extra):
    return {"external_id": external_id, "card_number": card, "behaviour_code": behaviour, "occurred_at": at, **extra}


CASES = {
    "accepted": [rec("a1")],
    "same record twice": [rec("a1"), rec("a1")],
    "same id, other content": [rec("a1"), rec("a1", behaviour="hours", quantity=3)],
    "unknown behaviour": [rec("a1", behaviour="flying")],
    "not authorised for this source": [rec("a1", behaviour="metro-ride")],
    "in the future": [rec("a1", at="2026-11-22T09:00:00+08:00")],
    "outside the window": [rec("a1", at="2025-01-01T09:00:00+08:00")],
    "quantity missing": [rec("a1", behaviour="hours")],
    "amount missing": [rec("a1", behaviour="donation")],
    "below the first band": [rec("a1", behaviour="donation", amount="999")],
    "unknown card": [rec("a1", card="NOSUCHCARD")],
    "card holder has not joined": [rec("a1", card="CARD0002")],
    "day cap": [rec(f"a{n}") for n in range(5)],
    "cap reduces, then refuses": [rec(f"a{n}", behaviour="gym") for n in range(3)],
    "diminishing hours": [
        rec("h1", behaviour="hours", quantity=15),
        rec("h2", behaviour="hours", quantity=10),
        rec("h3", behaviour="hours", quantity="60.5"),
    ],
    "refused first, same id later accepted": [rec("a1", card="NOSUCHCARD"), rec("a1")],
    "accepted first, same id later refused": [rec("a1"), rec("a1", card="NOSUCHCARD")],
    "malformed card": [rec("a1", card="")],
    "naive time": [rec("a1", at="2026-11-20T09:00:00")],
    "two residents": [rec("a1"), rec("a2", card="CARD0003"), rec("a3"), rec("a4", card="CARD0003")],
}


@pytest.fixture
def world():
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    metro = DataSource.objects.create(code="metro", name_en="Metro", name_zh="地铁")
    published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "loan", "rule": {"points": 1}, "cap_per_day": 3},
            {"code": "gym", "category": "sport-fitness", "rule": {"points": 2}, "cap_per_day": 3},
            {"code": "metro-ride", "category": "green-travel", "sources": [metro]},
            {
                "code": "hours",
                "category": "volunteering",
                "rule_kind": "per_unit",
                "rule": {"unit": "hour", "steps": [[20, 1], [80, 2], [200, 3], [None, 4]]},
            },
            {
                "code": "donation",
                "category": "charity",
                "rule_kind": "amount_bands",
                "rule": {"unit": "yuan", "bands": [[1000, 10000, 5], [10000, None, 10]]},
            },
        ],
    )
    for card in ("CARD0001", "CARD0003"):
        CardLink.objects.create(resident=ResidentFactory(), card_hash=card_hash(card))
    outsider = Resident.objects.create(user=UserFactory(), given_name="Left", terms_version="x")  # no balance
    CardLink.objects.create(resident=outsider, card_hash=card_hash("CARD0002"))
    return library


def through_award_service(source, records):
    outcomes = []
    for raw in records:
        if record_parse(0, raw).error and not raw["card_number"]:
            outcomes.append(("malformed", None))
            continue
        link = CardLink.objects.filter(card_hash=card_hash(raw["card_number"])).first()
        try:
            result = award_grant(
                resident=link.resident_id if link else 0,
                behaviour_code=raw["behaviour_code"],
                source=source,
                external_id=raw["external_id"],
                occurred_at=parse_datetime(raw["occurred_at"]),
                quantity=raw.get("quantity"),
                amount=raw.get("amount"),
            )
        except AwardRefused as refused:
            outcomes.append((SAME_MEANING.get(refused.code, refused.code), None))
        else:
            outcomes.append(("accepted" if result.created else "duplicate", result.entry.points))
    return outcomes


def through_batch(source, records):
    batch = batch_receive(source=source, idempotency_key="k", records=records).batch
    batch_process(batch_id=batch.pk)
    points_of = dict(LedgerEntry.objects.values_list("pk", "points"))
    return [
        (r.result, points_of[r.ledger_entry_id] if r.result in {"accepted", "duplicate"} else None)
        for r in batch.records.order_by("line")
    ]


def in_rollback(function, *args):
    class Rollback(Exception):
        pass

    outcome = None
    try:
        with transaction.atomic():
            outcome = function(*args)
            assert list(ledger_verify()) == [] and list(balances_verify()) == []
            raise Rollback
    except Rollback:
        pass
    return outcome


@pytest.mark.parametrize("case", CASES)
def test_both_paths_agree(world, case, django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        expected = in_rollback(through_award_service, world, CASES[case])
        actual = in_rollback(through_batch, world, CASES[case])
    assert actual == expected


def test_the_table_covers_every_outcome(world):
    """Every outcome a department can get (but the inactive source, refused at the door) has a case."""
    with time_machine.travel(NOW, tick=False):
        seen = {code for case in CASES.values() for code, _ in in_rollback(through_award_service, world, case)}
    everything = set(IngestRecord.Result.values) - {"pending", "source_inactive"}
    assert seen == everything


# Caps and per-unit totals also count what earlier batches awarded: the second batch reads them from the ledger.
ACROSS_BATCHES = {
    "day cap": ([rec(f"a{n}") for n in range(2)], [rec(f"a{n}") for n in range(2, 5)]),
    "cap reduces, then refuses": ([rec("g1", behaviour="gym")], [rec(f"g{n}", behaviour="gym") for n in (2, 3)]),
    "diminishing hours": (
        [rec("h1", behaviour="hours", quantity=15), rec("h2", behaviour="hours", quantity=10)],
        [rec("h3", behaviour="hours", quantity="60.5"), rec("h4", behaviour="hours", quantity=200)],
    ),
    "two residents' day caps": (
        [rec("a1"), rec("a2", card="CARD0003"), rec("a3")],
        [rec("a4", card="CARD0003"), rec("a5"), rec("a6"), rec("a7", card="CARD0003")],
    ),
}


def through_two_batches(source, first, second):
    outcomes = []
    for key, records in (("k1", first), ("k2", second)):
        batch = batch_receive(source=source, idempotency_key=key, records=records).batch
        batch_process(batch_id=batch.pk)
        points_of = dict(LedgerEntry.objects.values_list("pk", "points"))
        outcomes += [
            (r.result, points_of[r.ledger_entry_id] if r.result in {"accepted", "duplicate"} else None)
            for r in batch.records.order_by("line")
        ]
    return outcomes


@pytest.mark.parametrize("case", ACROSS_BATCHES)
def test_a_later_batch_counts_what_earlier_ones_awarded(world, case, django_capture_on_commit_callbacks):
    first, second = ACROSS_BATCHES[case]
    with time_machine.travel(NOW, tick=False):
        expected = in_rollback(through_award_service, world, first + second)
        actual = in_rollback(through_two_batches, world, first, second)
    assert actual == expected
    assert any(outcome != "accepted" for outcome, _points in expected) or case == "diminishing hours"
