"""Every kind of notice reads well in both languages, from facts only (ids, numbers, codes), and links somewhere."""

import datetime
import re

import pytest
from django.urls import resolve
from django.utils import translation

from citizenpoints.models import Appeal, Badge, Claim, Notification, Tier, TierScheme
from citizenpoints.services.notifications import notices_word
from citizenpoints.services.reversals import entry_reverse
from tests.factories import ResidentFactory, UserFactory
from tests.notifications.conftest import grant

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def tier(code, scheme="five-bands"):
    return Tier.objects.get(scheme__code=scheme, code=code)


@pytest.fixture
def facts(frozen, catalogue):
    """A resident and one notice of each kind (and each branch of a kind), params as the services write them."""
    resident = ResidentFactory(given_name="Mei")
    award = grant(resident, "l1").entry
    reviewer = UserFactory(roles=["reviewer"])
    reversal = entry_reverse(entry=grant(resident, "l2").entry, acting_user=reviewer, reason="Sent twice by mistake")
    behaviour = award.behaviour
    now = datetime.datetime.now(datetime.UTC)
    approved = Claim.objects.create(
        resident=resident, behaviour=behaviour, description="d", occurred_at=now, place="p", status="approved",
        decided_at=now, ledger_entry=award,
    )  # fmt: skip
    rejected = Claim.objects.create(
        resident=resident, behaviour=behaviour, description="d", occurred_at=now, place="p", status="rejected",
        decided_at=now, decision_reason="The photo does not show the book.",
    )  # fmt: skip
    appeal = Appeal.objects.create(
        resident=resident, subject="missing", behaviour=behaviour, occurred_at=now, statement="s",
        due_on=datetime.date(2026, 11, 30),
    )  # fmt: skip
    decided = Appeal.objects.create(
        resident=resident, subject="missing", behaviour=behaviour, occurred_at=now, statement="s",
        due_on=datetime.date(2026, 11, 30), status="granted", decided_at=now, decision_reason="The library confirmed.",
    )  # fmt: skip
    grades = TierScheme.objects.get(code="grades")
    badge = Badge.objects.get(code="love-messenger")
    specs = {
        "digest": (Kind.POINTS_DIGEST, {"count": 3, "points": "12.50"}),
        "digest one": (Kind.POINTS_DIGEST, {"count": 1, "points": "1.00"}),
        "tier up": (Kind.TIER_CHANGED, {"from_tier_id": tier("getting-started").pk, "to_tier_id": tier("good").pk,
                                        "cause": "points"}),
        "tier aged": (Kind.TIER_CHANGED, {"from_tier_id": tier("good").pk,
                                          "to_tier_id": tier("getting-started").pk, "cause": "ageing"}),
        "tier corrected": (Kind.TIER_CHANGED, {"from_tier_id": tier("good").pk,
                                               "to_tier_id": tier("getting-started").pk, "cause": "reversal"}),
        "tier scheme": (Kind.TIER_CHANGED, {"from_tier_id": tier("good").pk, "to_tier_id": tier("b", "grades").pk,
                                            "cause": "scheme", "reason": "Council decision 2026/14"}),
        "badge": (Kind.BADGE_EARNED, {"badge_id": badge.pk}),
        "claim approved": (Kind.CLAIM_DECIDED, {"claim_id": approved.pk, "status": "approved", "points": "1"}),
        "claim rejected": (Kind.CLAIM_DECIDED, {"claim_id": rejected.pk, "status": "rejected"}),
        "appeal received": (Kind.APPEAL_RECEIVED, {"appeal_id": appeal.pk, "due_on": "2026-11-30"}),
        "appeal decided": (Kind.APPEAL_DECIDED, {"appeal_id": decided.pk, "subject": "missing", "granted": True,
                                                 "points": "1.00"}),
        "reversed": (Kind.ENTRY_REVERSED, {"entry_id": reversal.reverses_id, "reversal_id": reversal.pk,
                                           "points": "1", "behaviour_code": "loan"}),
    }  # fmt: skip
    notices = {
        name: Notification.objects.create(
            resident=resident, kind=kind, params=params,
            digest_date={"digest": datetime.date(2026, 11, 20), "digest one": datetime.date(2026, 11, 19)}.get(name),
        )
        for name, (kind, params) in specs.items()
    }  # fmt: skip
    assert grades and set(Kind.values) == {notice.kind for notice in notices.values()}
    return notices


ENGLISH = {
    "digest": ("You received 12.5 points", ["From 3 records on Nov. 20, 2026.",
                                             "Each one, with where it came from, is in your points history."]),
    "digest one": ("You received 1 point", ["From 1 record on Nov. 19, 2026.",
                                             "Each one, with where it came from, is in your points history."]),
    "tier up": ("You reached Good", ["Your points moved you up from Getting started to Good. Well done!"]),
    "tier aged": ("Your tier is now Getting started",
                  ["Points from over a year ago have aged out; you are now in Getting started.",
                   "Every point you earn counts towards moving up again."]),
    "tier corrected": ("Your tier is now Getting started",
                       ["A record was corrected, so you are now in Getting started.",
                        "Your points history shows the correction and its reason. If you think it is wrong, you can "
                        "appeal."]),
    "tier scheme": ("New tier scheme: you are in B · Good",
                    ["The city changed its tier scheme to “Grades AAA to D”. Your points are unchanged; in the new "
                     "scheme you are in B · Good.", "The credit office says: Council decision 2026/14"]),
    "badge": ("You earned a badge: 💝 Love messenger",
              ["10 or more volunteering or blood-donation records in 12 months."]),
    "claim approved": ("Your claim was approved", ["You received 1 point for “Library loan”."]),
    "claim rejected": ("Your claim was not approved",
                       ["Your claim for “Library loan” was not approved.",
                        "The credit office's reason: The photo does not show the book.",
                        "If you think this is wrong, you can appeal."]),
    "appeal received": ("We received your appeal",
                        ["The credit office will decide by Nov. 30, 2026 and tell you its reasons."]),
    "appeal decided": ("Your appeal was granted",
                       ["The credit office's reasons: The library confirmed.",
                        "Any correction to your points is already in your points history."]),
    "reversed": ("Points taken back: Library loan",
                 ["The credit office took back 1 point for “Library loan”: the record was shown to be wrong.",
                  "The credit office's reason: Sent twice by mistake",
                  "If you think this is wrong, you can appeal."]),
}  # fmt: skip

CHINESE_TITLES = {
    "digest": "你获得了 12.5 分",
    "tier up": "你已达到良好",
    "tier aged": "你现在的等级是起步",
    "tier scheme": "新的等级方案：你的等级是B · 良好",
    "badge": "你获得了徽章：💝 爱心使者",
    "claim approved": "你的申报已获批准",
    "claim rejected": "你的申报未获批准",
    "appeal received": "我们已收到你的申诉",
    "appeal decided": "你的申诉已获支持",
    "reversed": "积分被撤回：图书借阅",
}


@pytest.mark.parametrize("name", ENGLISH)
def test_english_wording(facts, name):
    with translation.override("en"):
        (worded,) = notices_word([facts[name]])
    assert (worded.title, worded.body) == ENGLISH[name]
    assert resolve(worded.url.split("#")[0])  # a page of this site


@pytest.mark.parametrize("name", ENGLISH)
def test_chinese_wording(facts, name):
    with translation.override("zh-hans"):
        (worded,) = notices_word([facts[name]])
    if name in CHINESE_TITLES:
        assert worded.title == CHINESE_TITLES[name]
    assert CHINESE.search(worded.title)
    english_words = re.compile(r"\b(the|you|your|points?|was|credit)\b", re.IGNORECASE)
    for line in worded.body:
        assert CHINESE.search(line), line
        # Staff's own words (reasons) are shown as written; everything around them is Chinese.
        assert not english_words.search(line.split("：")[0]), line


def test_a_page_of_notices_is_worded_in_a_fixed_number_of_queries(facts, django_assert_max_num_queries):
    notices = list(Notification.objects.all())
    with django_assert_max_num_queries(5):
        notices_word(notices)


def test_a_notice_whose_rows_are_gone_still_reads(frozen, catalogue):
    resident = ResidentFactory()
    gone = [
        Notification(resident=resident, kind=Kind.CLAIM_DECIDED, params={"claim_id": 999999, "status": "rejected"}),
        Notification(resident=resident, kind=Kind.BADGE_EARNED, params={"badge_id": 999999}),
        Notification(resident=resident, kind=Kind.APPEAL_DECIDED, params={"appeal_id": 999999, "granted": False}),
        Notification(resident=resident, kind=Kind.ENTRY_REVERSED, params={"entry_id": 999999, "points": "2"}),
        Notification(resident=resident, kind=Kind.TIER_CHANGED, params={"to_tier_id": 999999, "cause": "points"}),
    ]
    with translation.override("en"):
        titles = [worded.title for worded in notices_word(gone)]
    assert titles == [
        "Your claim was not approved",
        "You earned a badge",
        "Your appeal was not granted",
        "Points taken back: ",
        "Your tier is now a new tier",
    ]
