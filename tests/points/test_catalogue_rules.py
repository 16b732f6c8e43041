"""The catalogue refuses forbidden topics and bad rules in the model, the service and the database itself."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import AuditEvent, Behaviour, CatalogueVersion, Category, DataSource, LedgerEntry
from citizenpoints.services import catalogue as catalogue_services
from citizenpoints.services.awards import award_grant
from citizenpoints.services.catalogue import behaviour_save, catalogue_draft_start, catalogue_publish
from citizenpoints.services.ledger import ledger_verify
from citizenpoints.services.reversals import entry_reverse
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = pytest.mark.django_db

FORBIDDEN = [
    ("name_en", "Religious activities"),
    ("name_zh", "宗教活动"),
    ("name_en", "R e l i g i 0 n"),
    ("name_en", "health check"),
    ("name_en", "Fingerprint registration"),
    ("name_zh", "计划生育"),
]
# The database backstop is a plain case-insensitive substring test: it cannot undo spacing and look-alike digits.
SPACED_OUT = pytest.mark.xfail(
    reason="CHECK uses icontains; normalising spaces and look-alikes needs a model/migration change", strict=True
)
FORBIDDEN_IN_DB = [
    pytest.param(*case, marks=SPACED_OUT) if case[1] == "R e l i g i 0 n" else case for case in FORBIDDEN
]


@pytest.fixture
def library():
    return DataSource.objects.get_or_create(
        code="library", defaults={"name_en": "City Library", "name_zh": "市图书馆"}
    )[0]


@pytest.fixture
def editor():
    return UserFactory(roles=["catalogue_editor"])


@pytest.fixture
def v1(library):
    return published_catalogue(sources=[library], behaviours=[{"code": "library-loan", "rule": {"points": 1}}])


@pytest.fixture
def draft(v1, editor):
    return catalogue_draft_start(acting_user=editor)


def category(field: str, text: str, **overrides) -> Category:
    values = {"code": "new-topic", "name_en": "New topic", "name_zh": "新主题", field: text, **overrides}
    return Category(**values)


def behaviour(version, field: str = "name_en", text: str = "Park clean-up", **overrides) -> Behaviour:
    values = {
        "version": version,
        "code": "park-cleanup",
        "category": Category.objects.get(code="environment"),
        "name_en": "Park clean-up",
        "name_zh": "公园清洁",
        "rule_kind": "fixed",
        "rule": {"points": 2},
        field: text,
        **overrides,
    }
    return Behaviour(**values)


def save_through_service(editor, version, **overrides):
    arguments = {
        "acting_user": editor,
        "version": version,
        "code": "park-cleanup",
        "category": Category.objects.get(code="environment"),
        "name_en": "Park clean-up",
        "name_zh": "公园清洁",
        "rule_kind": "fixed",
        "rule": {"points": 2},
        **overrides,
    }
    return behaviour_save(**arguments)


def refused_by_database(callable_) -> bool:
    try:
        with transaction.atomic():
            callable_()
    except IntegrityError:
        return True
    return False


# --- Forbidden topics ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "text"), FORBIDDEN)
def test_forbidden_categories_are_refused_on_save(field, text):
    with pytest.raises(ValidationError) as refused:
        category(field, text).save()
    assert refused.value.error_list[0].code == "forbidden_category"
    assert not Category.objects.filter(code="new-topic").exists()


@pytest.mark.parametrize(("field", "text"), FORBIDDEN)
def test_forbidden_behaviours_are_refused_on_save_and_by_the_service(field, text, draft, editor):
    with pytest.raises(ValidationError) as refused:
        behaviour(draft, field, text).save()
    assert refused.value.error_list[0].code == "forbidden_category"
    with pytest.raises(ApplicationError) as refused:
        save_through_service(editor, draft, **{field: text})
    assert refused.value.code == "forbidden_category"
    assert not Behaviour.objects.filter(code="park-cleanup").exists()


@pytest.mark.parametrize("where", ["code", "description_en", "description_zh"])
def test_forbidden_topics_are_caught_in_codes_and_descriptions_too(where, draft):
    text = "religious-service" if where == "code" else "Checks your 健康 records"
    with pytest.raises(ValidationError):
        behaviour(draft, where, text).save()


@pytest.mark.parametrize(("field", "text"), FORBIDDEN_IN_DB)
def test_the_database_refuses_forbidden_categories_that_skip_the_model(field, text):
    assert refused_by_database(lambda: Category.objects.bulk_create([category(field, text)]))
    values = {"code": "new-topic", "name_en": "New topic", "name_zh": "新主题", field: text}

    def insert_raw():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Category._meta.db_table} (code, name_en, name_zh, position) VALUES (%s, %s, %s, 0)",
                [values["code"], values["name_en"], values["name_zh"]],
            )

    assert refused_by_database(insert_raw)
    assert not Category.objects.filter(code="new-topic").exists()


@pytest.mark.parametrize(("field", "text"), FORBIDDEN_IN_DB)
def test_the_database_refuses_forbidden_behaviours_that_skip_the_model(field, text, draft):
    assert refused_by_database(lambda: Behaviour.objects.bulk_create([behaviour(draft, field, text)]))
    table = Behaviour._meta.db_table
    category_id = Category.objects.get(code="environment").pk
    names = {"name_en": "Park clean-up", "name_zh": "公园清洁", field: text}

    def insert_raw():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (version_id, code, category_id, name_en, name_zh, description_en, "
                "description_zh, rule_kind, rule, evidence_required) VALUES (%s, %s, %s, %s, %s, '', '', 'fixed', "
                "%s, false)",
                [draft.pk, "park-cleanup", category_id, names["name_en"], names["name_zh"], '{"points": 2}'],
            )

    assert refused_by_database(insert_raw)
    assert not Behaviour.objects.filter(code="park-cleanup").exists()


def test_harmless_names_that_contain_short_forbidden_words_are_accepted(draft):
    behaviour(draft, "name_en", "Trace the river path").save()  # "race" is not a forbidden term on its own
    assert Behaviour.objects.filter(code="park-cleanup").exists()


# --- Bad rules and caps --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_kind", "rule"),
    [
        ("fixed", {"points": 0}),
        ("fixed", {"points": -2}),
        ("fixed", {"points": "0.00"}),
        ("fixed", {"points": "NaN"}),
        ("fixed", {}),
        ("per_unit", {"unit": "hour", "steps": [[20, 0], [None, 2]]}),
        ("per_unit", {"unit": "hour", "steps": [[20, -1], [None, 2]]}),
        ("per_unit", {"unit": "hour", "steps": [[20, 2], [None, 1]]}),  # later hours worth more: not diminishing
        ("per_unit", {"unit": "hour", "steps": [[20, 1], [80, 2]]}),  # no open-ended last step
        ("amount_bands", {"bands": [[1000, 10000, 0]]}),
        ("amount_bands", {"bands": [[1000, 10000, -5]]}),
        ("amount_bands", {"bands": [[1000, 10000, 5], [9000, None, 10]]}),  # overlap
        ("amount_bands", {"bands": [[1000, 10000, 5], [12000, None, 10]]}),  # gap
        ("amount_bands", {"bands": [["lots", 10000, 5]]}),
        ("amount_bands", {"bands": [[1000, 10000]]}),
        ("per_unit", {"unit": "hour", "steps": [20]}),
    ],
)
def test_zero_negative_or_malformed_points_are_refused(rule_kind, rule, draft, editor):
    with pytest.raises(ValidationError) as invalid:
        behaviour(draft, rule_kind=rule_kind, rule=rule).save()
    assert list(invalid.value.error_dict) == ["rule"]
    with pytest.raises(ApplicationError) as refused:  # an error the console can show, not a server error
        save_through_service(editor, draft, rule_kind=rule_kind, rule=rule)
    assert refused.value.extra["errors"] == invalid.value.messages
    assert not Behaviour.objects.filter(code="park-cleanup").exists()


@pytest.mark.parametrize(
    ("rule_kind", "rule", "caps"),
    [
        ("fixed", {"points": 5}, {"cap_per_day": 3}),
        ("fixed", {"points": 5}, {"cap_per_year": 4}),
        ("amount_bands", {"bands": [[1000, 10000, 5], [10000, None, 10]]}, {"cap_per_month": 8}),
        ("fixed", {"points": 1}, {"cap_per_day": 0}),
    ],
)
def test_a_cap_smaller_than_one_records_points_is_refused(rule_kind, rule, caps, draft, editor):
    with pytest.raises(ValidationError) as invalid:
        behaviour(draft, rule_kind=rule_kind, rule=rule, **caps).save()
    assert list(invalid.value.error_dict) == list(caps)
    with pytest.raises(ApplicationError) as refused:
        save_through_service(editor, draft, rule_kind=rule_kind, rule=rule, **caps)
    assert refused.value.extra["errors"] == invalid.value.messages
    assert not Behaviour.objects.filter(code="park-cleanup").exists()


@pytest.mark.xfail(
    reason="Behaviour.clean raises ValidationError({field: message}, code=...): Django drops a code given beside a "
    "dict, so the service can only say 'invalid' (model change: wrap each message in ValidationError(..., code=...))",
    strict=True,
)
@pytest.mark.parametrize(
    ("overrides", "code"),
    [({"rule": {"points": 0}}, "invalid_rule"), ({"rule": {"points": 5}, "cap_per_day": 3}, "cap_below_record")],
)
def test_the_service_reports_the_models_error_code(overrides, code, draft, editor):
    with pytest.raises(ApplicationError) as refused:
        save_through_service(editor, draft, **overrides)
    assert refused.value.code == code


@pytest.mark.xfail(
    reason="Behaviour.clean checks caps only against a fixed/band record's points, so a per-unit rule's zero cap "
    "reaches the CHECK constraint as an IntegrityError (needs a model change)",
    raises=IntegrityError,
    strict=True,
)
def test_a_zero_cap_is_refused_as_an_editors_error_for_every_rule_kind(draft, editor):
    with pytest.raises(ApplicationError):
        save_through_service(
            editor, draft, rule_kind="per_unit", rule={"unit": "hour", "steps": [[None, 1]]}, cap_per_day=0
        )


def test_caps_must_not_shrink_over_longer_periods(draft):
    with pytest.raises(ValidationError) as refused:
        behaviour(draft, cap_per_day=10, cap_per_month=5).save()
    assert refused.value.error_list[0].code == "caps_order"


def test_the_database_refuses_awards_of_zero_or_negative_points(v1, library):
    resident = ResidentFactory()
    loan = v1.behaviours.get()
    values = {
        "resident": resident,
        "seq": 1,
        "kind": "award",
        "behaviour": loan,
        "behaviour_code": loan.code,
        "category": loan.category,
        "catalogue_version": v1,
        "source": library,
        "external_id": "x",
        "occurred_at": datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
        "prev_hash": "0" * 64,
    }
    for points in (Decimal(0), Decimal(-1)):
        entry = LedgerEntry(points=points, hash=f"{points}".ljust(64, "0"), **values)
        assert refused_by_database(lambda entry=entry: LedgerEntry.objects.bulk_create([entry]))


# --- Codes keep their meaning ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"category": "volunteering"}, {"rule_kind": "per_unit", "rule": {"unit": "book", "steps": [[None, 1]]}}],
)
def test_a_code_cannot_be_reused_for_another_behaviour(change, draft, editor):
    arguments = {
        "code": "library-loan",
        "name_en": "Library loan",
        "name_zh": "图书借阅",
        "category": "reading-culture",
    }
    arguments.update(change)
    arguments["category"] = Category.objects.get(code=arguments["category"])
    with pytest.raises(ApplicationError) as refused:
        save_through_service(editor, draft, **arguments)
    assert refused.value.code == "code_reused"
    assert draft.behaviours.get(code="library-loan").category.code == "reading-culture"


def test_a_code_keeps_its_meaning_when_only_its_points_change(draft, editor):
    saved = save_through_service(
        editor,
        draft,
        code="library-loan",
        category=Category.objects.get(code="reading-culture"),
        name_en="Library loan",
        name_zh="图书借阅",
        rule={"points": 3},
    )
    assert saved.rule == {"points": 3} and saved.version == draft


# --- Publishing --------------------------------------------------------------------------------------------------


NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)


def loan(resident, external_id, library):
    return award_grant(
        resident=resident,
        behaviour_code="library-loan",
        source=library,
        external_id=external_id,
        occurred_at=NOW - datetime.timedelta(days=1),
        now=NOW,
    )


def test_publishing_retires_the_old_version_and_never_changes_earned_points(v1, draft, editor, library):
    resident = ResidentFactory()
    old = loan(resident, "loan-1", library).entry
    save_through_service(
        editor,
        draft,
        code="library-loan",
        category=Category.objects.get(code="reading-culture"),
        name_en="Library loan",
        name_zh="图书借阅",
        rule={"points": 3},
        sources=[library],
    )
    catalogue_publish(acting_user=editor, version=draft, reason="Loans count for more from 2027.")

    v1.refresh_from_db()
    draft.refresh_from_db()
    assert (v1.status, draft.status) == ("retired", "published")
    assert v1.retired_at is not None and draft.published_by == editor
    old.refresh_from_db()
    assert (old.points, old.catalogue_version, old.behaviour.version) == (Decimal(1), v1, v1)
    new = loan(resident, "loan-2", library).entry
    assert (new.points, new.catalogue_version) == (Decimal(3), draft)
    assert list(ledger_verify()) == []
    assert AuditEvent.objects.filter(action="catalogue.publish", actor=editor).count() == 1


def test_publishing_is_all_or_nothing(v1, draft, editor, monkeypatch):
    def audit_fails(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(catalogue_services, "audit_record", audit_fails)
    with pytest.raises(RuntimeError):
        catalogue_publish(acting_user=editor, version=draft, reason="A new year's catalogue.")
    assert CatalogueVersion.objects.get(pk=v1.pk).status == "published"
    assert CatalogueVersion.objects.get(pk=draft.pk).status == "draft"
    assert CatalogueVersion.objects.get(pk=v1.pk).retired_at is None


@pytest.mark.parametrize(
    ("reason", "code"), [("", "reason_required"), ("   ", "reason_required"), ("Again.", "not_a_draft")]
)
def test_publishing_refusals(reason, code, v1, editor):
    version = v1 if code == "not_a_draft" else catalogue_draft_start(acting_user=editor)
    with pytest.raises(ApplicationError) as refused:
        catalogue_publish(acting_user=editor, version=version, reason=reason)
    assert refused.value.code == code
    assert CatalogueVersion.objects.get(status="published") == v1


def test_an_empty_draft_cannot_be_published(editor):
    draft = catalogue_draft_start(acting_user=editor)  # nothing published yet, so nothing copied
    with pytest.raises(ApplicationError) as refused:
        catalogue_publish(acting_user=editor, version=draft, reason="First catalogue.")
    assert refused.value.code == "empty_catalogue"


def test_only_a_draft_can_be_edited(v1, editor):
    with pytest.raises(ApplicationError) as refused:
        save_through_service(editor, v1)
    assert refused.value.code == "not_a_draft"


# --- Permissions -------------------------------------------------------------------------------------------------


@pytest.fixture(params=["no role", "reviewer", "inactive editor", "anonymous"])
def outsider(request):
    from django.contrib.auth.models import AnonymousUser

    if request.param == "anonymous":
        return AnonymousUser()
    if request.param == "inactive editor":
        user = UserFactory(roles=["catalogue_editor"])
        user.is_active = False
        user.save()
        return user
    return UserFactory(roles=["reviewer"] if request.param == "reviewer" else None)


def test_only_catalogue_editors_change_the_catalogue(outsider, v1, editor):
    draft = catalogue_draft_start(acting_user=editor)
    audit_rows = AuditEvent.objects.count()
    attempts = [
        lambda: catalogue_draft_start(acting_user=outsider),
        lambda: save_through_service(outsider, draft),
        lambda: catalogue_publish(acting_user=outsider, version=draft, reason="Because I can."),
    ]
    for attempt in attempts:
        with pytest.raises(ApplicationError) as refused:
            attempt()
        assert refused.value.code == "permission_denied"
    assert CatalogueVersion.objects.get(pk=draft.pk).status == "draft"
    assert not Behaviour.objects.filter(code="park-cleanup").exists()
    # Nothing changed, and each refusal is in the audit trail (written outside the refused transaction).
    denials = AuditEvent.objects.filter(action="permission.denied", object_id="catalogue_editor")
    assert AuditEvent.objects.count() == audit_rows + len(attempts) == audit_rows + denials.count()


def test_only_reviewers_reverse_entries(v1, library):
    resident = ResidentFactory()
    entry = loan(resident, "loan-1", library).entry
    for user in (UserFactory(), UserFactory(roles=["catalogue_editor"])):
        with pytest.raises(ApplicationError) as refused:
            entry_reverse(entry=entry, acting_user=user, reason="I do not like this record.")
        assert refused.value.code == "permission_denied"
    assert not LedgerEntry.objects.filter(kind="reversal").exists()
