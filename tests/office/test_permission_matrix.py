"""The permission matrix: every role against every office screen and action, and against every staff service.

`SCREENS` states who may use each office URL. The test walks the URL configuration, so a new office screen fails
until it is placed in the matrix. For each screen and each role it checks that:

- the roles that may use it get through, by GET and by POST (each POST rolled back, so the matrix never depends on
  the order it runs in);
- everyone else is refused: anonymous visitors are sent to sign in, and signed-in people get 403 (405 for a GET of
  an action that only takes POST, which reveals nothing);
- nothing changes when a POST is refused, and every refused request by a signed-in person is in the audit trail.

`SERVICES` does the same one layer down: each staff service refuses every other role with `permission_denied`, and
the refusal is in the audit trail even though the service's own transaction rolled back.
"""

import datetime
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from benefits.services.benefits import benefit_pause
from benefits.services.merchants import merchant_onboard
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import (
    ApiKey,
    Appeal,
    AuditEvent,
    Behaviour,
    CalendarDay,
    CatalogueVersion,
    Claim,
    DataSource,
    IngestBatch,
    LedgerEntry,
    OfficeRole,
    TierScheme,
)
from citizenpoints.services.appeals import appeal_decide, appeal_review_start
from citizenpoints.services.awards import award_grant
from citizenpoints.services.calendar import calendar_day_save
from citizenpoints.services.catalogue import catalogue_draft_start, catalogue_publish
from citizenpoints.services.claims import claim_approve, claim_reject
from citizenpoints.services.evidence import photos_attach
from citizenpoints.services.ingest import api_key_create, batch_confirm, batch_receive, data_source_save
from citizenpoints.services.reversals import entry_reverse
from citizenpoints.services.tiers import tier_scheme_switch
from citizenpoints.statistics import Period, statistics, statistics_compute
from tests.factories import BenefitFactory, MerchantStaffFactory, ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

E, R, P, D, A = (
    OfficeRole.CATALOGUE_EDITOR,
    OfficeRole.REVIEWER,
    OfficeRole.PARTNER_MANAGER,
    OfficeRole.DATA_SOURCE_MANAGER,
    OfficeRole.AUDITOR,
)
STAFF = frozenset({E, R, P, D, A})
# Everyone the matrix is tried with. Superusers hold every role; the others hold one role each, or none.
PEOPLE = ["anonymous", "resident", "cashier", E, R, P, D, A, "superuser"]

# Who may use each office screen (superusers always may). Screens a reviewer or an auditor may read are listed with
# both; only the roles that act are listed on an action.
SCREENS: dict[str, frozenset] = {
    "office:home": STAFF,
    # Casework: reviewers decide, auditors read.
    "office:claims": frozenset({R, A}),
    "office:claim": frozenset({R, A}),
    "office:claim_approve": frozenset({R}),
    "office:claim_reject": frozenset({R}),
    "office:appeals": frozenset({R, A}),
    "office:appeal": frozenset({R, A}),
    "office:appeal_review": frozenset({R}),
    "office:appeal_decide": frozenset({R}),
    "office:calendar": frozenset({R, A}),
    "office:calendar_day_new": frozenset({R}),
    "office:calendar_day_edit": frozenset({R}),
    "office:calendar_day_remove": frozenset({R}),
    "office:residents": frozenset({R}),
    "office:resident": frozenset({R}),
    "office:entry_reverse": frozenset({R}),
    # The catalogue and tier schemes: editors change them; reviewers (who judge claims by them) and auditors read.
    "office:catalogue": frozenset({E, R, A}),
    "office:catalogue_version": frozenset({E, R, A}),
    "office:catalogue_draft": frozenset({E}),
    "office:catalogue_publish": frozenset({E}),
    "office:behaviour_new": frozenset({E}),
    "office:behaviour_edit": frozenset({E}),
    "office:behaviour_remove": frozenset({E}),
    "office:tiers": frozenset({E, R, A}),
    "office:tier_switch": frozenset({E}),
    # Departments and their data.
    "office:sources": frozenset({D, A}),
    "office:source": frozenset({D, A}),
    "office:batch": frozenset({D, A}),
    "office:batch_results": frozenset({D, A}),
    "office:source_new": frozenset({D}),
    "office:source_edit": frozenset({D}),
    "office:key_create": frozenset({D}),
    "office:key_revoke": frozenset({D}),
    "office:upload": frozenset({D}),
    "office:batch_confirm": frozenset({D}),
    # Partners and benefits.
    **{
        f"benefits:{name}": frozenset({P})
        for name in [
            "office-merchants",
            "office-merchant-new",
            "office-merchant",
            "office-merchant-edit",
            "office-merchant-pause",
            "office-merchant-resume",
            "office-location-new",
            "office-staff-new",
            "office-benefit-new",
            "office-benefits",
            "office-benefits-new-tier",
            "office-benefit",
            "office-benefit-edit",
            "office-benefit-pause",
            "office-benefit-resume",
            "office-benefit-quota",
            "office-benefit-tier",
        ]
    },
    # Oversight.
    "office:statistics": STAFF,
    "office:statistics_csv": STAFF,
    "office:audit": frozenset({A}),
    "office:audit_export": frozenset({A}),
}


def office_routes() -> dict[str, str]:
    """Every named URL under /office/, whichever app declares it: {"namespace:name": route}."""

    def walk(patterns, prefix: str, namespace: str):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else pattern.namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner or namespace)
            elif isinstance(pattern, URLPattern) and (prefix + str(pattern.pattern)).startswith("office/"):
                yield f"{namespace}:{pattern.name}", prefix + str(pattern.pattern)

    return dict(walk(get_resolver().url_patterns, "", ""))


def jpeg() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "JPEG")
    return SimpleUploadedFile("photo.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def world(private_storage):
    """One of everything an office URL can name."""
    now = timezone.now()
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    claims = DataSource.objects.get(code="claims")
    published_catalogue(
        sources=[library],
        behaviours=[
            {"code": "library-loan", "rule": {"points": 2}},
            {"code": "litter-pick", "category": "volunteering", "evidence_required": True, "sources": [claims]},
        ],
    )
    resident = ResidentFactory()
    entry = award_grant(
        resident=resident,
        behaviour_code="library-loan",
        source=library,
        external_id="L-1",
        occurred_at=now - datetime.timedelta(days=2),
    ).entry
    editor = UserFactory(roles=[E])
    draft = catalogue_draft_start(acting_user=editor)
    key, _secret = api_key_create(acting_user=UserFactory(roles=[D]), source=library, label="Library system")
    batch = batch_receive(
        source=library,
        idempotency_key="upload-1",
        records=[
            {
                "external_id": "L-2",
                "card_number": "330100198512120042",
                "behaviour_code": "library-loan",
                "occurred_at": (now - datetime.timedelta(days=1)).isoformat(),
            }
        ],
        channel=IngestBatch.Channel.CSV,
        preview=True,
    ).batch
    claim = Claim.objects.create(
        resident=resident,
        behaviour=Behaviour.objects.get(code="litter-pick", version__status="published"),
        description="Picked litter along the canal.",
        occurred_at=now - datetime.timedelta(days=1),
        place="Canal path",
    )
    photo = photos_attach(claim=claim, uploads=[jpeg()])[0]
    appeal = Appeal.objects.create(
        resident=resident,
        subject=Appeal.Subject.ENTRY,
        entry=entry,
        statement="The library counted this loan twice.",
        due_on=timezone.localdate() + datetime.timedelta(days=7),
    )
    day = CalendarDay.objects.create(date=datetime.date(2026, 10, 1), name_en="National Day", name_zh="国庆节")
    cashier = MerchantStaffFactory()
    benefit = BenefitFactory(merchant=cashier.merchant)
    kwargs = {
        "pk": None,  # per screen below
        "number": draft.number,
        "code": "library",
        "key_id": key.pk,
        "batch_id": batch.pk,
        "slug": cashier.merchant.slug,
        "key": statistics()[0].key,
        "entry_id": entry.pk,
    }
    pks = {"claim": claim.pk, "appeal": appeal.pk, "calendar": day.pk, "benefit": benefit.pk}
    return {
        "resident": resident,
        "cashier": cashier,
        "entry": entry,
        "claim": claim,
        "photo": photo,
        "appeal": appeal,
        "kwargs": kwargs,
        "pks": pks,
        "draft": draft,
        "key": key,
        "batch": batch,
        "benefit": benefit,
        "library": library,
    }


@pytest.fixture
def private_storage(tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "private": {**settings.STORAGES["private"]}}
    settings.STORAGES["private"]["OPTIONS"] = {"location": tmp_path / "private"}


def url_for(name: str, world) -> str:
    """The screen's URL for the world's objects: each argument its route names, from the world."""
    arguments = dict(world["kwargs"])
    for kind in ("claim", "appeal", "calendar", "benefit"):
        if kind in name:
            arguments["pk"] = world["pks"][kind]
            break
    if name in {"office:resident", "office:entry_reverse"}:
        arguments["number"] = world["resident"].pk
    if name in {"office:behaviour_edit", "office:behaviour_remove"}:
        arguments["code"] = "library-loan"
    if name == "office:tier_switch":
        arguments["code"] = "grades"
    params = re.findall(r"<(?:\w+:)?(\w+)>", office_routes()[name])
    return reverse(name, kwargs={param: arguments[param] for param in params})


def person(role: str, world):
    if role == "anonymous":
        return None
    if role == "resident":
        return world["resident"].user
    if role == "cashier":
        return world["cashier"].user
    if role == "superuser":
        return UserFactory(is_superuser=True, is_staff=True, mfa=True)
    return UserFactory(roles=[role], mfa=True)


def snapshot() -> dict[str, int]:
    """What a refused action could have changed."""
    from benefits.models import Benefit, Merchant

    models = [Appeal, ApiKey, Benefit, CalendarDay, CatalogueVersion, Claim, DataSource, IngestBatch, LedgerEntry,
              Merchant, TierScheme]  # fmt: skip
    state = {model.__name__: model.objects.count() for model in models}
    state["claims pending"] = Claim.objects.filter(status="pending").count()
    state["appeals open"] = Appeal.objects.filter(status__in=Appeal.OPEN).count()
    state["active scheme"] = TierScheme.objects.get(is_active=True).code
    state["keys revoked"] = ApiKey.objects.filter(revoked_at__isnull=False).count()
    state["benefits active"] = Benefit.objects.filter(is_active=True).count()
    return state


def test_every_office_screen_is_in_the_matrix():
    assert set(office_routes()) == set(SCREENS), "place each new office screen in SCREENS, with who may use it"


@pytest.mark.parametrize("role", PEOPLE)
def test_each_role_against_each_office_screen(client, world, role):
    user = person(role, world)
    if user is not None:
        client.force_login(user)
    before = snapshot()
    denials_before = AuditEvent.objects.filter(action="screen.denied").count()
    wrong, refused_posts = [], 0
    for name, allowed in sorted(SCREENS.items()):
        url = url_for(name, world)
        may = role == "superuser" or role in allowed
        for method in ("get", "post"):
            if may:
                with transaction.atomic():  # an allowed POST runs for real, then is undone
                    response = getattr(client, method)(url)
                    transaction.set_rollback(True)
            else:
                response = getattr(client, method)(url)
            status = response.status_code
            if method == "get" and status == 405 and not may:
                ok = True  # an action that only takes POST: refused before anything is looked at
            elif role == "anonymous":
                ok = status == 302 and "/accounts/login/" in response["Location"]
            elif may:
                ok = status < 500 and status != 403 and "/accounts/login/" not in response.get("Location", "")
            elif name == "office:home":
                ok = status == 302  # people who are not staff are sent to their own home page
            else:
                ok = status == 403
                refused_posts += method == "post"
            if not ok:
                wrong.append(f"{method.upper()} {name} as {role}: {status}")
    assert not wrong, "\n".join(wrong)
    assert snapshot() == before  # refused POSTs changed nothing (allowed ones were rolled back)
    if role not in {"anonymous", "superuser"}:
        # Every refused POST (and refused GET) by a signed-in person is in the trail; GETs answered 405 are not.
        denials = AuditEvent.objects.filter(action="screen.denied").count() - denials_before
        assert denials >= refused_posts


def test_evidence_photos_open_for_their_owner_reviewers_and_auditors_only(client, world):
    url = reverse("evidence_photo", args=[world["photo"].pk])
    for role in PEOPLE:
        user = person(role, world)
        client.logout()
        if user is not None:
            client.force_login(user)
        status = client.get(url).status_code
        if role == "anonymous":
            assert status == 302, role
        elif role in {"resident", R, A, "superuser"}:
            assert status == 200, role
        else:
            assert status == 404, role  # not even whether the photo exists


# Each staff service with the role it needs, called with arguments that would succeed for that role.
SERVICES = {
    "catalogue_draft_start": (E, lambda user, w: catalogue_draft_start(acting_user=user)),
    "catalogue_publish": (E, lambda user, w: catalogue_publish(acting_user=user, version=w["draft"], reason="New.")),
    "tier_scheme_switch": (
        E,
        lambda user, w: tier_scheme_switch(
            acting_user=user, scheme=TierScheme.objects.get(code="grades"), reason="Seashell grades."
        ),
    ),
    "entry_reverse": (
        R,
        lambda user, w: entry_reverse(entry=w["entry"], acting_user=user, reason="The library sent it twice."),
    ),
    "claim_approve": (R, lambda user, w: claim_approve(acting_user=user, claim=w["claim"])),
    "claim_reject": (R, lambda user, w: claim_reject(acting_user=user, claim=w["claim"], reason="No photo of it.")),
    "appeal_review_start": (R, lambda user, w: appeal_review_start(acting_user=user, appeal=w["appeal"])),
    "appeal_decide": (
        R,
        lambda user, w: appeal_decide(acting_user=user, appeal=w["appeal"], grant=True, reason="Counted twice."),
    ),
    "calendar_day_save": (
        R,
        lambda user, w: calendar_day_save(
            acting_user=user,
            date=datetime.date(2026, 5, 1),
            is_working_day=False,
            name_en="Labour Day",
            name_zh="劳动节",
        ),
    ),
    "data_source_save": (
        D,
        lambda user, w: data_source_save(acting_user=user, code="metro", name_en="Metro", name_zh="地铁"),
    ),
    "api_key_create": (D, lambda user, w: api_key_create(acting_user=user, source=w["library"], label="Spare")),
    "batch_confirm": (D, lambda user, w: batch_confirm(acting_user=user, batch=w["batch"])),
    "merchant_onboard": (
        P,
        lambda user, w: merchant_onboard(acting_user=user, slug="tea-house", name_en="Tea House", name_zh="茶馆"),
    ),
    "benefit_pause": (P, lambda user, w: benefit_pause(acting_user=user, benefit=w["benefit"], reason="Stock out.")),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_staff_service_refuses_every_other_role(world, service):
    needs, call = SERVICES[service]
    before = snapshot()
    for role in PEOPLE:
        if role in {needs, "superuser", "anonymous"}:
            continue
        user = person(role, world)
        denials = AuditEvent.objects.filter(action="permission.denied").count()
        with pytest.raises(ApplicationError) as refused:
            call(user, world)
        assert refused.value.code == "permission_denied", (service, role)
        assert AuditEvent.objects.filter(action="permission.denied").count() == denials + 1, (service, role)
    assert snapshot() == before
    with transaction.atomic():  # the role it needs gets past the check (the world may still say no to the act)
        try:
            call(person(needs, world), world)
        except ApplicationError as error:
            assert error.code != "permission_denied", service
        transaction.set_rollback(True)


def test_statistics_are_for_office_staff_only(world):
    period = Period.last_months(12)
    for role in PEOPLE:
        user = person(role, world)
        if role in {"anonymous", "resident", "cashier"}:
            with pytest.raises(ApplicationError) as refused:
                statistics_compute(acting_user=user, period=period)
            assert refused.value.code == "permission_denied"
        else:
            assert statistics_compute(acting_user=user, period=period)


def test_staff_never_see_a_card_number(client, world):
    """The card number the department sent (hashed on arrival) appears on no office page, whoever looks."""
    pages = [name for name in SCREENS if not name.endswith(("_csv", "_export", "_results"))]
    client.force_login(UserFactory(is_superuser=True, is_staff=True, mfa=True))
    for name in pages:
        response = client.get(url_for(name, world))
        assert b"330100198512120042" not in response.content, name
