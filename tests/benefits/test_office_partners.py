"""The partner manager's office screens through the test client: every screen and action, the refusals of other roles
(in the views and in the services), the list of benefits left on a retired tier scheme, logos, invitations, audit."""

import datetime
import io
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from benefits.models import Benefit, Merchant, MerchantLocation, MerchantStaff
from benefits.selectors import benefit_refusal
from benefits.services.benefits import (
    benefit_create,
    benefit_pause,
    benefit_resume,
    benefit_set_min_tier,
    benefit_set_quota,
    benefit_update,
)
from benefits.services.merchants import (
    location_add,
    merchant_onboard,
    merchant_pause,
    merchant_resume,
    merchant_set_logo,
    merchant_update,
    staff_add,
    staff_invite,
)
from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import AuditEvent, Tier, TierScheme, User
from citizenpoints.services.tiers import tier_scheme_switch
from tests.factories import (
    BenefitFactory,
    MerchantFactory,
    MerchantLocationFactory,
    MerchantStaffFactory,
    ResidentFactory,
    UserFactory,
    place_in_tier,
    tier,
)

pytestmark = pytest.mark.django_db

CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-Hans,zh;q=0.9"}


@pytest.fixture
def manager():
    return UserFactory(roles=["partner_manager"], mfa=True)


@pytest.fixture
def office(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def main(response) -> str:
    page = response.content.decode()
    return page[page.index("<main") : page.index("</main>")]


def png_upload(name="logo.png", size=(300, 200)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def renamed_pdf() -> SimpleUploadedFile:
    return SimpleUploadedFile("logo.png", b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF", content_type="image/png")


def actions() -> list[str]:
    """What staff did, in order; refusals (also audited, by the office's access check) aside."""
    events = AuditEvent.objects.exclude(action__endswith="denied").order_by("id")
    return list(events.values_list("action", flat=True))


def band(code: str) -> Tier:
    """A tier of the five bands, active or not."""
    return Tier.objects.get(scheme__code="five-bands", code=code)


MERCHANT_POST = {
    "name_en": "City Gym",
    "name_zh": "城市健身房",
    "category": "fitness",
    "address_en": "8 Binjiang Avenue",
    "address_zh": "滨江大道8号",
    "opening_hours_en": "06:30-22:00 daily",
    "opening_hours_zh": "每天 06:30-22:00",
}


# --- Partners.
def test_the_partner_list_counts_locations_staff_and_benefits(office):
    gym = MerchantFactory(name_en="City Gym", name_zh="城市健身房")
    MerchantLocationFactory.create_batch(2, merchant=gym)
    MerchantStaffFactory(merchant=gym)
    BenefitFactory(merchant=gym)
    BenefitFactory(merchant=gym, is_active=False)
    MerchantFactory(name_en="Old Books", is_active=False)

    page = main(office.get(reverse("benefits:office-merchants")))
    row = re.search(r"City Gym</a></div></td>(.*?)</tr>", page, re.S).group(1)
    assert [int(n) for n in re.findall(r'class="num">(\d+)', row)] == [2, 1, 1]
    assert "1 active of 2" in row and "Active" in row
    assert "Old Books" in page

    paused = main(office.get(reverse("benefits:office-merchants"), {"status": "paused"}))
    assert "Old Books" in paused and "City Gym" not in paused


def test_onboarding_a_partner_with_a_logo(office, manager):
    response = office.post(reverse("benefits:office-merchant-new"), {**MERCHANT_POST, "logo_upload": png_upload()})
    merchant = Merchant.objects.get()
    assert response.status_code == 302 and response.url == reverse("benefits:office-merchant", args=[merchant.slug])
    assert merchant.slug == "city-gym" and merchant.name_zh == "城市健身房" and merchant.is_active
    with Image.open(merchant.logo_thumbnail.path) as thumb:
        assert thumb.format == "PNG" and max(thumb.size) == 128
    assert actions() == ["benefits.merchant_onboard", "benefits.merchant_set_logo"]
    assert AuditEvent.objects.filter(actor=manager).count() == 2

    # A second "City Gym" gets its own short name.
    office.post(reverse("benefits:office-merchant-new"), MERCHANT_POST)
    assert sorted(Merchant.objects.values_list("slug", flat=True)) == ["city-gym", "city-gym-2"]


def test_a_renamed_pdf_is_refused_as_a_logo_and_nothing_is_onboarded(office):
    response = office.post(reverse("benefits:office-merchant-new"), {**MERCHANT_POST, "logo_upload": renamed_pdf()})
    assert response.status_code == 400
    assert "The logo must be an image (PNG, JPEG, GIF or WebP)." in main(response)
    assert not Merchant.objects.exists()
    assert actions() == []

    merchant = MerchantFactory()
    response = office.post(
        reverse("benefits:office-merchant-edit", args=[merchant.slug]), {**MERCHANT_POST, "logo_upload": renamed_pdf()}
    )
    assert response.status_code == 400 and "The logo must be an image" in main(response)
    assert Merchant.objects.get(pk=merchant.pk).name_en != "City Gym"


def test_onboarding_needs_both_names(office):
    response = office.post(reverse("benefits:office-merchant-new"), {**MERCHANT_POST, "name_zh": " "})
    assert response.status_code == 400 and not Merchant.objects.exists()


def test_editing_a_partner_is_audited_with_before_and_after(office):
    merchant = MerchantFactory(name_en="Gym", name_zh="健身", slug="gym")
    response = office.post(reverse("benefits:office-merchant-edit", args=["gym"]), MERCHANT_POST)
    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.name_en, merchant.slug, merchant.opening_hours_zh) == ("City Gym", "gym", "每天 06:30-22:00")
    event = AuditEvent.objects.get(action="benefits.merchant_update")
    assert event.before["name_en"] == "Gym" and event.after["name_en"] == "City Gym"


def test_the_partner_page_shows_its_details_locations_staff_and_benefits(office):
    merchant = MerchantFactory(name_en="City Gym", name_zh="城市健身房", slug="gym")
    MerchantLocationFactory(merchant=merchant, name_en="Front desk", name_zh="前台")
    MerchantStaffFactory(merchant=merchant, user=UserFactory(email="cashier@gym.example"))
    BenefitFactory(merchant=merchant, title_en="Free first class")
    page = main(office.get(reverse("benefits:office-merchant", args=["gym"])))
    for text in ("City Gym", "城市健身房", "Front desk", "cashier@gym.example", "Cashier", "Free first class"):
        assert text in page
    assert 'style="' not in page


def test_pausing_and_resuming_a_partner_needs_a_reason(office):
    merchant = MerchantFactory(slug="gym")
    response = office.post(reverse("benefits:office-merchant-pause", args=["gym"]), {"status-reason": ""})
    assert response.status_code == 400 and "This field is required." in main(response)
    assert Merchant.objects.get(pk=merchant.pk).is_active

    office.post(reverse("benefits:office-merchant-pause", args=["gym"]), {"status-reason": "Contract under review"})
    assert not Merchant.objects.get(pk=merchant.pk).is_active
    office.post(reverse("benefits:office-merchant-resume", args=["gym"]), {"status-reason": "Contract renewed"})
    assert Merchant.objects.get(pk=merchant.pk).is_active
    assert list(AuditEvent.objects.order_by("id").values_list("action", "reason")) == [
        ("benefits.merchant_pause", "Contract under review"),
        ("benefits.merchant_resume", "Contract renewed"),
    ]


def test_adding_a_location(office):
    merchant = MerchantFactory(slug="gym")
    data = {"location-name_en": "Front desk", "location-name_zh": "前台", "location-address_en": "8 Binjiang Ave"}
    response = office.post(reverse("benefits:office-location-new", args=["gym"]), data)
    assert response.status_code == 302
    assert merchant.locations.get().name_zh == "前台"
    assert actions() == ["benefits.location_add"]

    response = office.post(reverse("benefits:office-location-new", args=["gym"]), {"location-name_en": "No Chinese"})
    assert response.status_code == 400 and merchant.locations.count() == 1


def test_a_new_staff_member_is_invited_to_choose_a_password(
    client, office, manager, django_capture_on_commit_callbacks
):
    merchant = MerchantFactory(slug="gym", name_en="City Gym", name_zh="城市健身房")
    desk = MerchantLocationFactory(merchant=merchant)
    data = {"staff-email": "New.Cashier@Gym.example", "staff-role": "cashier", "staff-location": desk.pk}
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(reverse("benefits:office-staff-new", args=["gym"]), data)
    assert response.status_code == 302
    staff = MerchantStaff.objects.get()
    assert (staff.merchant, staff.role, staff.location) == (merchant, "cashier", desk)
    assert staff.user.email == "new.cashier@gym.example"
    assert not staff.user.has_usable_password()
    assert actions() == ["benefits.staff_add"]

    [invitation] = mail.outbox
    assert invitation.to == [staff.user.email]
    assert "City Gym" in invitation.subject and "城市健身房" in invitation.subject
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", invitation.body).group(1)

    # The staff member follows the link, chooses a password, and signs in to the counter.
    client.logout()
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    new_password = "Counter-passw0rd-2026"
    done = client.post(form_page.redirect_chain[-1][0], {"password1": new_password, "password2": new_password})
    assert done.status_code == 302
    staff.user.refresh_from_db()
    assert staff.user.check_password(new_password)

    client.logout()
    signed_in = client.post(reverse("account_login"), {"login": staff.user.email, "password": new_password})
    assert signed_in.status_code == 302
    assert client.get(reverse("home")).url == reverse("benefits:counter")


def test_an_existing_account_is_told_not_given_a_password_link(office, django_capture_on_commit_callbacks):
    resident = ResidentFactory()
    MerchantFactory(slug="gym")
    data = {"staff-email": resident.user.email, "staff-role": "manager"}
    with django_capture_on_commit_callbacks(execute=True):
        office.post(reverse("benefits:office-staff-new", args=["gym"]), data)
    assert MerchantStaff.objects.get().user == resident.user
    assert "/accounts/password/reset/" not in mail.outbox[0].body
    assert resident.user.has_usable_password()


@pytest.mark.parametrize("who", ["office", "already_staff"])
def test_staff_refusals_show_on_the_form_and_send_nothing(office, who, django_capture_on_commit_callbacks):
    merchant = MerchantFactory(slug="gym")
    user = UserFactory(roles=["reviewer"]) if who == "office" else MerchantStaffFactory().user
    with django_capture_on_commit_callbacks(execute=True):
        response = office.post(
            reverse("benefits:office-staff-new", args=["gym"]), {"staff-email": user.email, "staff-role": "cashier"}
        )
    assert response.status_code == 400
    message = "Credit office accounts cannot be partner staff." if who == "office" else "already works for a partner"
    assert message in main(response)
    assert not merchant.staff.exists() and mail.outbox == []


def test_a_refused_invitation_creates_no_account(manager):
    MerchantStaffFactory()
    with pytest.raises(ApplicationError) as refused:
        staff_invite(acting_user=manager, merchant=MerchantFactory(), email="bad address")
    assert refused.value.code == "bad_email"
    other = MerchantFactory()
    elsewhere = MerchantLocationFactory()
    with pytest.raises(ApplicationError) as refused:
        staff_invite(acting_user=manager, merchant=other, email="new@x.example", location=elsewhere)
    assert refused.value.code == "wrong_merchant"
    assert not User.objects.filter(email="new@x.example").exists()


# --- Benefits.
def benefit_post(**changes) -> dict:
    data = {
        "family": "fitness",
        "title_en": "Half-price gym day pass",
        "title_zh": "健身日卡半价",
        "terms_en": "Show the code at reception.",
        "terms_zh": "在前台出示二维码。",
        "min_tier": tier("very-good").pk,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
        "quota": "500",
        "limit_count": "2",
        "limit_period": "week",
        "is_active": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_creating_a_benefit(office, manager):
    merchant = MerchantFactory(slug="gym")
    desk = MerchantLocationFactory(merchant=merchant)
    MerchantLocationFactory(merchant=merchant)
    form = main(office.get(reverse("benefits:office-benefit-new", args=["gym"])))
    # Only the active scheme's tiers are offered.
    assert f'<option value="{tier("very-good").pk}"' in form
    assert f'<option value="{Tier.objects.get(scheme__code="grades", code="a").pk}"' not in form

    response = office.post(reverse("benefits:office-benefit-new", args=["gym"]), benefit_post(locations=[desk.pk]))
    benefit = Benefit.objects.get()
    assert response.status_code == 302 and response.url == reverse("benefits:office-benefit", args=[benefit.pk])
    assert (benefit.family, benefit.min_tier, benefit.quota, benefit.limit_count, benefit.limit_period) == (
        "fitness",
        tier("very-good"),
        500,
        2,
        "week",
    )
    assert list(benefit.locations.all()) == [desk] and benefit.is_active
    assert AuditEvent.objects.get(action="benefits.benefit_create").actor == manager


def test_a_benefit_may_be_created_paused_and_refuses_reversed_dates_or_old_tiers(office):
    MerchantFactory(slug="gym")
    url = reverse("benefits:office-benefit-new", args=["gym"])
    office.post(url, benefit_post(is_active=None))
    assert not Benefit.objects.get().is_active

    response = office.post(url, benefit_post(valid_until="2025-12-31"))
    assert response.status_code == 400 and "The end date must not be before the start date." in main(response)
    response = office.post(url, benefit_post(min_tier=Tier.objects.get(scheme__code="grades", code="a").pk))
    assert response.status_code == 400 and Benefit.objects.count() == 1


def test_editing_a_benefit(office):
    merchant = MerchantFactory(slug="gym")
    desk = MerchantLocationFactory(merchant=merchant)
    benefit = BenefitFactory(merchant=merchant, quota=10, min_tier=tier("good"))
    page = main(office.get(reverse("benefits:office-benefit-edit", args=[benefit.pk])))
    assert benefit.title_en in page and 'name="quota"' not in page and 'name="min_tier"' not in page

    data = benefit_post(title_en="Free first class", valid_until="", limit_count="", locations=[desk.pk])
    response = office.post(reverse("benefits:office-benefit-edit", args=[benefit.pk]), data)
    assert response.status_code == 302
    benefit.refresh_from_db()
    assert (benefit.title_en, benefit.valid_until, benefit.limit_count) == ("Free first class", None, None)
    assert (benefit.quota, benefit.min_tier) == (10, tier("good"))  # not the edit form's to change
    assert list(benefit.locations.all()) == [desk]
    event = AuditEvent.objects.get(action="benefits.benefit_update")
    assert event.before["locations"] == [] and event.after["locations"] == [desk.pk]
    assert event.after["title_en"] == "Free first class"


def test_the_benefit_page_pauses_resumes_sets_the_quota_and_the_tier(office):
    benefit = BenefitFactory(quota=10, used=4)
    url = reverse("benefits:office-benefit", args=[benefit.pk])
    page = main(office.get(url))
    assert benefit.title_en in page and "4 / 10" in page

    office.post(reverse("benefits:office-benefit-pause", args=[benefit.pk]), {"status-reason": "Stock count"})
    assert not Benefit.objects.get(pk=benefit.pk).is_active
    office.post(reverse("benefits:office-benefit-resume", args=[benefit.pk]), {"status-reason": "Counted"})
    assert Benefit.objects.get(pk=benefit.pk).is_active

    refused = office.post(
        reverse("benefits:office-benefit-quota", args=[benefit.pk]), {"quota-quota": "3", "quota-reason": "x"}
    )
    assert refused.status_code == 400 and "cannot be below the 4 uses already made" in main(refused)
    office.post(
        reverse("benefits:office-benefit-quota", args=[benefit.pk]), {"quota-quota": "", "quota-reason": "Lifted"}
    )
    assert Benefit.objects.get(pk=benefit.pk).quota is None

    data = {"tier-min_tier": tier("outstanding").pk, "tier-reason": "Partner asked"}
    assert office.post(reverse("benefits:office-benefit-tier", args=[benefit.pk]), data).status_code == 302
    assert Benefit.objects.get(pk=benefit.pk).min_tier == tier("outstanding")
    assert actions() == [
        "benefits.benefit_pause",
        "benefits.benefit_resume",
        "benefits.benefit_set_quota",
        "benefits.benefit_set_min_tier",
    ]


def test_the_benefit_list_filters(office):
    gym = MerchantFactory(name_en="City Gym", slug="gym")
    BenefitFactory(merchant=gym, family="fitness", title_en="Gym pass")
    BenefitFactory(family="library", title_en="Longer loans", is_active=False)
    BenefitFactory(family="go", title_en="Bike hire")
    url = reverse("benefits:office-benefits")

    def titles(**query) -> set[str]:
        page = main(office.get(url, query))
        return {title for title in ("Gym pass", "Longer loans", "Bike hire") if title in page}

    assert titles() == {"Gym pass", "Longer loans", "Bike hire"}
    assert titles(family="library") == {"Longer loans"}
    assert titles(status="paused") == {"Longer loans"}
    assert titles(status="active") == {"Gym pass", "Bike hire"}
    assert titles(merchant="gym") == {"Gym pass"}
    assert titles(text="bike") == {"Bike hire"}
    assert titles(needs_tier="on") == set()


@pytest.fixture
def switched(manager):
    """Two benefits made under the five bands; the catalogue editor then switches the city to grades."""
    resident = ResidentFactory(given_name="wei")
    place_in_tier(resident, "good")
    benefits = [
        BenefitFactory(title_en="Deposit-free bike hire", min_tier=tier("good")),
        BenefitFactory(title_en="Library late fees waived", min_tier=tier("very-good"), is_active=False),
    ]
    editor = UserFactory(roles=["catalogue_editor"])
    tier_scheme_switch(acting_user=editor, scheme=TierScheme.objects.get(code="grades"), reason="Council decision")
    return resident, benefits


def test_after_a_scheme_switch_the_office_lists_and_fixes_benefits_needing_a_new_tier(office, switched):
    resident, (bikes, library) = switched
    bikes.refresh_from_db()
    assert benefit_refusal(resident=resident, benefit=bikes)[0] == "tier_scheme_changed"

    assert "2 benefits still name a tier of a retired tier scheme." in main(
        office.get(reverse("benefits:office-merchants"))
    )
    listed = main(office.get(reverse("benefits:office-benefits"), {"needs_tier": "on"}))
    assert "Deposit-free bike hire" in listed and "Library late fees waived" in listed
    assert "Needs a new minimum tier" in listed

    fix_url = reverse("benefits:office-benefits-new-tier")
    page = main(office.get(fix_url))
    assert "Deposit-free bike hire" in page and "Library late fees waived" in page
    scheme = TierScheme.objects.get(code="grades").name_en
    assert f"The city switched to the “{scheme}” tier scheme." in page  # the reason offered, to be edited
    grade = Tier.objects.filter(scheme__code="grades").order_by("min_score").first()
    assert f'<option value="{grade.pk}"' in page
    assert f'<option value="{band("good").pk}"' not in page  # the retired scheme's tiers are not offered

    data = {
        "prefix": f"b{bikes.pk}",
        f"b{bikes.pk}-min_tier": grade.pk,
        f"b{bikes.pk}-reason": "New scheme",
        "next": fix_url,
    }
    response = office.post(reverse("benefits:office-benefit-tier", args=[bikes.pk]), data)
    assert response.status_code == 302 and response.url == fix_url
    bikes.refresh_from_db()
    assert bikes.min_tier == grade
    assert benefit_refusal(resident=resident, benefit=bikes) is None

    page = main(office.get(fix_url))
    assert f'id="benefit-{bikes.pk}"' not in page and f'id="benefit-{library.pk}"' in page
    event = AuditEvent.objects.get(action="benefits.benefit_set_min_tier")
    assert event.before["min_tier"] == "good" and event.after["min_tier"] == grade.code and event.reason == "New scheme"

    # A missing reason sends the officer back with the benefit named in the message; nothing changes.
    data = {
        "prefix": f"b{library.pk}",
        f"b{library.pk}-min_tier": grade.pk,
        f"b{library.pk}-reason": "",
        "next": fix_url,
    }
    response = office.post(reverse("benefits:office-benefit-tier", args=[library.pk]), data, follow=True)
    assert "Library late fees waived: This field is required." in main(response)
    assert Benefit.objects.get(pk=library.pk).min_tier == band("very-good")


def test_the_tier_form_ignores_an_outside_next_url(office, switched):
    _resident, (bikes, _library) = switched
    grade = Tier.objects.filter(scheme__code="grades").first()
    data = {"tier-min_tier": grade.pk, "tier-reason": "x", "next": "https://evil.example/"}
    response = office.post(reverse("benefits:office-benefit-tier", args=[bikes.pk]), data)
    assert response.url == reverse("benefits:office-benefit", args=[bikes.pk])


def test_the_screens_in_chinese(office, switched):
    _resident, (bikes, _library) = switched
    merchant = bikes.merchant
    pages = [
        reverse("benefits:office-merchants"),
        reverse("benefits:office-merchant", args=[merchant.slug]),
        reverse("benefits:office-benefits"),
        reverse("benefits:office-benefits-new-tier"),
        reverse("benefits:office-benefit", args=[bikes.pk]),
        reverse("benefits:office-benefit-new", args=[merchant.slug]),
    ]
    for url in pages:
        response = office.get(url, **CHINESE)
        assert response.status_code == 200, url
        assert 'lang="zh-Hans"' in response.content.decode()
    assert merchant.name_zh in main(office.get(pages[0], **CHINESE))
    assert "合作" in main(office.get(pages[0], **CHINESE))
    assert bikes.title_zh in main(office.get(pages[2], **CHINESE))


# --- Who may.
def _urls(merchant, benefit):
    slug, pk = merchant.slug, benefit.pk
    gets = [
        reverse("benefits:office-merchants"),
        reverse("benefits:office-merchant-new"),
        reverse("benefits:office-merchant", args=[slug]),
        reverse("benefits:office-merchant-edit", args=[slug]),
        reverse("benefits:office-benefits"),
        reverse("benefits:office-benefits-new-tier"),
        reverse("benefits:office-benefit-new", args=[slug]),
        reverse("benefits:office-benefit", args=[pk]),
        reverse("benefits:office-benefit-edit", args=[pk]),
    ]
    posts = [
        (reverse("benefits:office-merchant-new"), MERCHANT_POST),
        (reverse("benefits:office-merchant-edit", args=[slug]), MERCHANT_POST),
        (reverse("benefits:office-merchant-pause", args=[slug]), {"status-reason": "x"}),
        (reverse("benefits:office-merchant-resume", args=[slug]), {"status-reason": "x"}),
        (reverse("benefits:office-location-new", args=[slug]), {"location-name_en": "A", "location-name_zh": "甲"}),
        (reverse("benefits:office-staff-new", args=[slug]), {"staff-email": "z@x.example", "staff-role": "cashier"}),
        (reverse("benefits:office-benefit-new", args=[slug]), benefit_post()),
        (reverse("benefits:office-benefit-edit", args=[pk]), benefit_post()),
        (reverse("benefits:office-benefit-pause", args=[pk]), {"status-reason": "x"}),
        (reverse("benefits:office-benefit-resume", args=[pk]), {"status-reason": "x"}),
        (reverse("benefits:office-benefit-quota", args=[pk]), {"quota-quota": "9", "quota-reason": "x"}),
        (reverse("benefits:office-benefit-tier", args=[pk]), {"tier-min_tier": tier("good").pk, "tier-reason": "x"}),
    ]
    return gets, posts


@pytest.mark.parametrize(
    "role", ["reviewer", "auditor", "catalogue_editor", "data_source_manager", "resident", "cashier", None]
)
def test_other_roles_and_anonymous_visitors_are_refused_every_screen_and_action(client, role):
    merchant = MerchantFactory(slug="gym")
    benefit = BenefitFactory(merchant=merchant)
    if role == "resident":
        client.force_login(ResidentFactory().user)
    elif role == "cashier":
        client.force_login(MerchantStaffFactory(merchant=merchant, role="manager").user)
    elif role:
        client.force_login(UserFactory(roles=[role], mfa=True))
    gets, posts = _urls(merchant, benefit)
    for url in gets:
        response = client.get(url)
        assert response.status_code == (302 if role is None else 403), url
        if role is None:
            assert response.url.startswith(reverse("account_login"))
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code in ((302,) if role is None else (403,)), url
    assert actions() == []
    denials = AuditEvent.objects.filter(action__endswith="denied").count()
    assert denials == (0 if role is None else len(gets) + len(posts))
    assert Merchant.objects.count() == 1 and Merchant.objects.get().is_active
    assert Benefit.objects.get().is_active and Benefit.objects.get().quota is None


@pytest.mark.parametrize("role", ["reviewer", "auditor", "catalogue_editor", "resident"])
def test_the_services_refuse_other_roles_too(role):
    user = ResidentFactory().user if role == "resident" else UserFactory(roles=[role])
    merchant = MerchantFactory()
    location = MerchantLocationFactory(merchant=merchant)
    benefit = BenefitFactory(merchant=merchant)
    calls = [
        (merchant_onboard, {"slug": "x", "name_en": "X", "name_zh": "X"}),
        (merchant_update, {"merchant": merchant, "name_en": "Y"}),
        (merchant_pause, {"merchant": merchant, "reason": "r"}),
        (merchant_resume, {"merchant": merchant, "reason": "r"}),
        (merchant_set_logo, {"merchant": merchant, "upload": png_upload()}),
        (location_add, {"merchant": merchant, "name_en": "A", "name_zh": "甲"}),
        (staff_add, {"merchant": merchant, "user": UserFactory()}),
        (staff_invite, {"merchant": merchant, "email": "someone@x.example", "location": location}),
        (
            benefit_create,
            {
                "merchant": merchant,
                "family": "go",
                "title_en": "T",
                "title_zh": "T",
                "min_tier": tier("good"),
                "valid_from": datetime.date(2026, 1, 1),
            },
        ),
        (benefit_update, {"benefit": benefit, "title_en": "New"}),
        (benefit_pause, {"benefit": benefit, "reason": "r"}),
        (benefit_resume, {"benefit": benefit, "reason": "r"}),
        (benefit_set_quota, {"benefit": benefit, "quota": 5, "reason": "r"}),
        (benefit_set_min_tier, {"benefit": benefit, "min_tier": tier("good"), "reason": "r"}),
    ]
    for service, kwargs in calls:
        with pytest.raises(ApplicationError) as refused:
            service(acting_user=user, **kwargs)
        assert refused.value.code == "permission_denied", service.__name__
    assert actions() == []
    # Each refusal is in the audit trail (checked before the service's transaction, so it is not rolled back).
    assert AuditEvent.objects.filter(action="permission.denied", actor=user).count() == len(calls)
    assert not User.objects.filter(email="someone@x.example").exists()
    assert MerchantLocation.objects.count() == 1


def test_a_superuser_may(client):
    client.force_login(UserFactory(is_superuser=True, is_staff=True, mfa=True))
    assert client.get(reverse("benefits:office-merchants")).status_code == 200


def test_the_update_services_refuse_empty_titles_and_reversed_dates(manager):
    benefit = BenefitFactory(valid_from=datetime.date(2026, 1, 1))
    for kwargs, code in [
        ({"title_zh": " "}, "title_required"),
        ({"valid_until": datetime.date(2025, 1, 1)}, "dates_reversed"),
    ]:
        with pytest.raises(ApplicationError) as refused:
            benefit_update(acting_user=manager, benefit=benefit, **kwargs)
        assert refused.value.code == code
    with pytest.raises(ApplicationError) as refused:
        merchant_update(acting_user=manager, merchant=benefit.merchant, name_en="")
    assert refused.value.code == "name_required"
    with pytest.raises(ApplicationError) as refused:
        benefit_update(acting_user=manager, benefit=benefit, locations=[MerchantLocationFactory()])
    assert refused.value.code == "wrong_merchant"
    assert actions() == []


def test_the_lists_cost_the_same_queries_however_many_partners(office):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(url) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert office.get(url).status_code == 200
        return len(captured)

    gym = MerchantFactory(slug="gym")
    pages = [
        reverse("benefits:office-merchants"),
        reverse("benefits:office-benefits"),
        reverse("benefits:office-merchant", args=["gym"]),
    ]

    def grow():
        for _ in range(3):
            merchant = MerchantFactory()
            MerchantLocationFactory(merchant=merchant)
            BenefitFactory(merchant=merchant)
        MerchantLocationFactory(merchant=gym)
        MerchantStaffFactory(merchant=gym, location=MerchantLocationFactory(merchant=gym))
        BenefitFactory(merchant=gym)

    grow()
    [queries(url) for url in pages]  # warm the per-process caches (content types, the session's user)
    before = [queries(url) for url in pages]
    grow()
    grow()
    assert [queries(url) for url in pages] == before
