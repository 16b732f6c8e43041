"""The foundation's onboarding journey in a real Chromium at phone size (360x780), in English and Chinese.

Each page a newcomer meets must fit the phone's width and pass axe-core, and is saved as a screenshot under
test-results/screenshots for a person to look at.
"""

import re
import time

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail
from playwright.sync_api import Page, expect

from citizenpoints.mfa import totp_current_code, totp_enrol
from citizenpoints.models import OfficeRole, Resident
from citizenpoints.services.residents import current_terms_version
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CONFIRM_LINK = re.compile(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)")


@pytest.fixture
def check_page(axe_check, screenshot):
    """Check a page as a person on a phone would meet it: nothing wider than the screen, axe-clean, and saved."""

    def check(page: Page, name: str) -> None:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} is {overflow}px wider than the phone"
        axe_check(page)
        screenshot(page, name)

    return check


# --- Steps a person takes, shared by the tests below.
def switch_language(page: Page, name: str, html_lang: str) -> None:
    """Press a language in the footer switcher and wait for the page to come back in it."""
    page.locator(".site-footer").get_by_role("button", name=name).click()
    expect(page.locator("html")).to_have_attribute("lang", html_lang)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def sign_up(page: Page, email: str) -> None:
    page.goto("/accounts/signup/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))


def open_confirmation_link(page: Page, email: str) -> None:
    """Open the link in the verification email, as a person tapping it in their mail app."""
    message = next(m for m in reversed(mail.outbox) if email in m.to)
    page.goto(CONFIRM_LINK.search(message.body).group(1))
    expect(page.get_by_role("link", name=email)).to_be_visible()


def confirm_email(page: Page) -> None:
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/join/$"))


def fill_join_form(page: Page, *, given_name: str, consent: bool) -> None:
    page.locator("input[name=given_name]").fill(given_name)
    if consent:
        page.locator("input[name=consent]").check()
    page.locator("main form button[type=submit]").click()


# --- 1. The landing page.
def test_landing_page_in_english_and_chinese(page: Page, check_page, csp_violations):
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(heading(page)).to_have_text("Points for doing good in your city")
    expect(page.get_by_role("link", name="Create an account")).to_be_visible()
    check_page(page, "landing-en")

    switch_language(page, "简体中文", "zh-Hans")
    expect(heading(page)).to_have_text("在你的城市做好事，赚积分")
    expect(heading(page)).to_be_visible()
    check_page(page, "landing-zh")

    # The choice sticks for the next page, and the switcher goes back to English.
    page.goto("/terms/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    switch_language(page, "English", "en")
    assert csp_violations == []


# --- 2. Sign up, verify, join with consent, see the profile.
def test_sign_up_verify_join_and_see_the_profile(page: Page, check_page, csp_violations):
    page.goto("/accounts/signup/")
    expect(heading(page)).to_be_visible()
    check_page(page, "signup-en")

    sign_up(page, "mei@example.org")
    expect(heading(page)).to_have_text(re.compile("Verify your email", re.IGNORECASE))
    check_page(page, "verify-sent-en")

    open_confirmation_link(page, "mei@example.org")
    check_page(page, "confirm-email-en")
    confirm_email(page)
    assert EmailAddress.objects.get(email="mei@example.org").verified
    expect(heading(page)).to_have_text("Join the programme")
    check_page(page, "join-en")

    # Without the tick nothing is recorded. The terms are long, so the reason is said at the top of the page (which
    # takes the focus) and again at the box itself, which a link in the summary leads to.
    fill_join_form(page, given_name="Mei", consent=False)
    expect(page).to_have_title(re.compile(r"^Error: Join the programme"))
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("To join, tick the box")
    consent = page.get_by_role("checkbox", name="I have read the terms above and I agree to join CityPoints.")
    expect(consent).to_have_attribute("aria-invalid", "true")
    expect(consent).to_have_accessible_description(re.compile("To join, tick the box"))
    expect(page.locator("input[name=given_name]")).to_have_value("Mei")
    assert not Resident.objects.exists()
    check_page(page, "join-error-en")
    summary.get_by_role("link").click()
    expect(consent).to_be_focused()

    fill_join_form(page, given_name="Mei", consent=True)
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(heading(page)).to_have_text("Hello, Mei")
    expect(page.get_by_text(f"Terms version {current_terms_version()}")).to_be_visible()
    assert Resident.objects.get(user__email="mei@example.org").given_name == "Mei"
    check_page(page, "profile-en")
    assert csp_violations == []


def test_sign_up_and_join_in_chinese(page: Page, check_page, csp_violations):
    page.goto("/")
    switch_language(page, "简体中文", "zh-Hans")

    page.goto("/accounts/signup/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(heading(page)).to_have_text("注册")
    check_page(page, "signup-zh")

    sign_up(page, "li@example.org")
    expect(heading(page)).to_have_text("验证您的Email地址")
    check_page(page, "verify-sent-zh")
    open_confirmation_link(page, "li@example.org")
    confirm_email(page)
    expect(heading(page)).to_have_text("加入本计划")
    # The language for messages starts as the one the person is reading.
    expect(page.locator("select[name=language]")).to_have_value("zh-hans")
    check_page(page, "join-zh")
    fill_join_form(page, given_name="李华", consent=False)
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading")).to_have_text("请先处理以下问题")
    expect(summary).to_contain_text("请勾选方框")
    expect(page).to_have_title(re.compile(r"^错误："))
    expect(page.locator(".site-footer")).to_contain_text("语言：")
    check_page(page, "join-error-zh")

    fill_join_form(page, given_name="李华", consent=True)
    expect(heading(page)).to_have_text("你好，李华")
    expect(page.get_by_text(f"条款版本 {current_terms_version()}")).to_be_visible()
    assert Resident.objects.get(user__email="li@example.org").language == "zh-hans"
    check_page(page, "profile-zh")
    assert csp_violations == []


# --- 3. Credit office staff sign in with their authenticator app.
def wrong_code_for(code: str) -> str:
    return "".join(str((int(digit) + 1) % 10) for digit in code)


def start_of_totp_step() -> float:
    """allauth accepts only the code of the current 30-second step. Tests that type a code travel to the start of a
    step (time still ticking), so the code they compute is still valid when the server checks it."""
    now = time.time()
    return now - now % mfa_settings.TOTP_PERIOD


def sign_in(page: Page, email: str) -> None:
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()


def test_staff_sign_in_asks_for_the_authenticator_code(page: Page, check_page, csp_violations):
    staff = UserFactory(roles=[OfficeRole.REVIEWER])
    totp_enrol(user=staff)

    with time_machine.travel(start_of_totp_step(), tick=True):
        page.goto("/accounts/login/")
        check_page(page, "login-en")
        sign_in(page, staff.email)

        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
        code_input = page.locator("input[name=code]")
        expect(code_input).to_be_visible()
        check_page(page, "mfa-code-en")

        right_code = totp_current_code(user=staff)
        code_input.fill(wrong_code_for(right_code))
        page.get_by_role("button", name="Sign In").click()
        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
        expect(page.locator("input[name=code]")).to_have_accessible_description(re.compile("Incorrect code"))
        check_page(page, "mfa-code-error-en")

        page.locator("input[name=code]").fill(right_code)
        page.get_by_role("button", name="Sign In").click()
        expect(page).to_have_url(re.compile(r"/me/$"))
        expect(heading(page)).to_have_text("Credit office")
    assert csp_violations == []


def test_staff_without_an_authenticator_sets_one_up(page: Page, check_page, axe_check, csp_violations):
    staff = UserFactory(roles=[OfficeRole.AUDITOR])
    with time_machine.travel(start_of_totp_step(), tick=True):
        page.goto("/accounts/login/")
        sign_in(page, staff.email)
        # Sent to set up an authenticator; allauth asks for the password again first.
        expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
        expect(page.get_by_role("status")).to_contain_text("Staff accounts must use two-factor authentication")
        axe_check(page)
        page.get_by_label("Password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()

        expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/$"))
        secret = page.get_by_label("Authenticator secret")
        expect(secret).to_have_accessible_description(re.compile("reinstall your authenticator app"))
        # The secret is shown in a disabled input, which cannot be scrolled: all of it must be visible. Measured once
        # the page has loaded: the URL changes at the form's redirect, before the stylesheet that sizes the secret
        # has applied (on a busy machine the measure saw the browser's default font and overflowed).
        page.wait_for_load_state("load")
        assert secret.evaluate("el => el.scrollWidth <= el.clientWidth")
        expect(page.locator("main img")).to_be_visible()
        check_page(page, "mfa-setup-en")

        counter = int(time.time()) // mfa_settings.TOTP_PERIOD
        page.get_by_label("Authenticator code").fill(format_hotp_value(hotp_value(secret.input_value(), counter)))
        page.get_by_role("button", name="Activate").click()
        expect(page.get_by_role("status")).to_contain_text("Authenticator app activated")
    assert staff.authenticator_set.exists()
    assert csp_violations == []
