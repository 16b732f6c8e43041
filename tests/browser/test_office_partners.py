"""The partner manager's screens at a desk, in both languages: onboarding (a renamed PDF refused as a logo), a partner's
page, the benefits list, a benefit, and the benefits left on a retired tier scheme, fixed one by one."""

import pytest
from playwright.sync_api import expect

from citizenpoints.models import Tier, TierScheme
from citizenpoints.services.tiers import tier_scheme_switch
from tests.browser.test_office_ingest import sign_in
from tests.factories import (
    BenefitFactory,
    MerchantFactory,
    MerchantLocationFactory,
    MerchantStaffFactory,
    UserFactory,
    tier,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DESKTOP = {"width": 1280, "height": 900}


def partners() -> tuple:
    bikes = MerchantFactory(
        slug="west-lake-bikes",
        name_en="West Lake Bikes",
        name_zh="西湖单车",
        category="transport",
        address_en="Beishan Street 1",
        address_zh="北山街1号",
        opening_hours_en="07:00-20:00 daily",
        opening_hours_zh="每天 07:00-20:00",
    )
    kiosk = MerchantLocationFactory(merchant=bikes, name_en="Broken Bridge kiosk", name_zh="断桥租车点")
    MerchantLocationFactory(merchant=bikes, name_en="Su Causeway kiosk", name_zh="苏堤租车点")
    MerchantStaffFactory(merchant=bikes, role="manager")
    MerchantStaffFactory(merchant=bikes, location=kiosk)
    hire = BenefitFactory(
        merchant=bikes,
        family="go",
        title_en="Deposit-free bike hire",
        title_zh="免押金租自行车",
        min_tier=tier("good"),
        quota=500,
        used=37,
        limit_count=2,
        limit_period="day",
    )
    BenefitFactory(merchant=bikes, family="travel", title_en="Free city tour", title_zh="免费城市游", is_active=False)
    library = MerchantFactory(
        slug="library", name_en="Hangzhou Public Library", name_zh="杭州图书馆", category="library"
    )
    loans = BenefitFactory(
        merchant=library,
        family="library",
        title_en="Double loan limit",
        title_zh="借阅数量翻倍",
        min_tier=tier("very-good"),
    )
    MerchantFactory(slug="gym", name_en="Riverside Fitness", name_zh="江畔健身", category="fitness", is_active=False)
    return bikes, hire, loans


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_partner_manager_at_a_desk(page, live_server, axe_check, screenshot, csp_violations, language, tmp_path):
    suffix = "zh" if language == "zh-hans" else "en"
    bikes, hire, _loans = partners()
    page.set_viewport_size(DESKTOP)
    sign_in(page, UserFactory(roles=["partner_manager"], mfa=True), live_server)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

    page.goto(f"{live_server.url}/office/partners/")
    expect(page.get_by_role("link", name=bikes.name_zh if suffix == "zh" else bikes.name_en)).to_be_visible()
    axe_check(page)
    screenshot(page, f"office-partners-{suffix}")

    page.goto(f"{live_server.url}/office/partners/merchants/{bikes.slug}/")
    page.locator("details.add-form summary").last.click()
    expect(page.locator("#id_staff-email")).to_be_visible()
    axe_check(page)
    screenshot(page, f"office-partner-{suffix}")

    # Onboarding, with a PDF renamed to .png as the logo: refused, in words, and nothing is created.
    pdf = tmp_path / "logo.png"
    pdf.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF")
    page.goto(f"{live_server.url}/office/partners/new/")
    page.locator("#id_name_en").fill("City Gym")
    page.locator("#id_name_zh").fill("城市健身房")
    page.locator("#id_category").select_option("fitness")
    page.locator("#id_logo_upload").set_input_files(str(pdf))
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#id_logo_upload_error")).to_be_visible()
    axe_check(page)
    screenshot(page, f"office-partner-onboard-refused-{suffix}")

    page.goto(f"{live_server.url}/office/partners/benefits/{hire.pk}/")
    axe_check(page)
    screenshot(page, f"office-benefit-{suffix}")

    page.goto(f"{live_server.url}/office/partners/merchants/{bikes.slug}/benefits/new/")
    axe_check(page)
    screenshot(page, f"office-benefit-new-{suffix}")
    assert csp_violations == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_benefits_left_on_a_retired_scheme_are_listed_and_fixed(page, live_server, axe_check, screenshot, language):
    suffix = "zh" if language == "zh-hans" else "en"
    _bikes, hire, loans = partners()
    editor = UserFactory(roles=["catalogue_editor"])
    tier_scheme_switch(acting_user=editor, scheme=TierScheme.objects.get(code="grades"), reason="Council decision")
    page.set_viewport_size(DESKTOP)
    sign_in(page, UserFactory(roles=["partner_manager"], mfa=True), live_server)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

    page.goto(f"{live_server.url}/office/partners/benefits/")
    expect(page.locator(".alert.warning")).to_be_visible()
    axe_check(page)
    screenshot(page, f"office-benefits-{suffix}")

    page.locator(".alert.warning a").click()
    expect(page.locator(f"#benefit-{hire.pk}")).to_be_visible()
    axe_check(page)
    screenshot(page, f"office-benefits-new-tier-{suffix}")

    grade = Tier.objects.filter(scheme__code="grades").order_by("min_score")[1]
    row = page.locator("section.needs-tier", has=page.locator(f"#benefit-{hire.pk}"))
    row.locator("select").select_option(str(grade.pk))
    row.locator("button[type=submit]").click()
    expect(page.locator(".message.success")).to_be_visible()
    expect(page.locator(f"#benefit-{hire.pk}")).to_have_count(0)
    expect(page.locator(f"#benefit-{loans.pk}")).to_be_visible()
    hire.refresh_from_db()
    assert hire.min_tier == grade
    axe_check(page)
    screenshot(page, f"office-benefits-new-tier-fixed-{suffix}")


def test_the_partner_screens_still_work_on_a_phone(page, live_server, axe_check, screenshot):
    bikes, hire, _loans = partners()
    sign_in(page, UserFactory(roles=["partner_manager"], mfa=True), live_server)
    for url, name in [
        ("/office/partners/", "office-partners-phone"),
        (f"/office/partners/merchants/{bikes.slug}/", "office-partner-phone"),
        (f"/office/partners/benefits/{hire.pk}/", "office-benefit-phone"),
    ]:
        page.goto(f"{live_server.url}{url}")
        axe_check(page)
        screenshot(page, name)
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
