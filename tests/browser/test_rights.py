"""A resident's rights in a real Chromium at phone size (360x780), in English and Chinese: the personal report (page
and PDF), the data export, the access log and leaving the programme.

Each page is checked with axe-core, must fit the phone's width, and is saved as a screenshot (SCREENSHOTS_DIR).
"""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from citizenpoints.models import OfficeRole, Resident, User
from citizenpoints.services.access import resident_file_open
from tests.factories import PASSWORD, UserFactory
from tests.rights_data import history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def check_page(axe_check, screenshot):
    def check(page: Page, name: str) -> None:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} is {overflow}px wider than the phone"
        axe_check(page)
        screenshot(page, name)

    return check


@pytest.fixture
def residents():
    data = history()
    auditor = UserFactory(roles=[OfficeRole.AUDITOR], mfa=True)
    for resident in data["residents"].values():
        resident_file_open(acting_user=auditor, resident=resident)
    return data["residents"]


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/me/$"))


def switch_language(page: Page, name: str, html_lang: str) -> None:
    page.locator(".site-footer").get_by_role("button", name=name).click()
    expect(page.locator("html")).to_have_attribute("lang", html_lang)


def heading(page: Page):
    return page.get_by_role("heading", level=1)


LANGUAGES = {
    "en": {
        "switch": None,
        "profile": "Profile and privacy",
        "report_link": "Your personal report (page and PDF)",
        "report": "Your personal report",
        "pdf": "Download as PDF",
        "pdf_text": ["Your personal report", "City Library", "Library loan"],
        "access_link": "Who opened your file",
        "auditor": "Auditor",
        "export_link": "Download all your data",
        "prepare": "Prepare my data",
        "download": "Download (zip)",
        "leave_link": "Leave the programme",
        "leave_button": "Leave and erase my data",
        "tick_error": "Tick the box to confirm that you want to leave.",
        "left": "You have left CityPoints",
    },
    "zh-hans": {
        "switch": ("简体中文", "zh-Hans"),
        "profile": "个人资料与隐私",
        "report_link": "您的个人报告（网页和 PDF）",
        "report": "您的个人报告",
        "pdf": "下载 PDF",
        "pdf_text": ["您的个人报告", "市图书馆", "读书会"],
        "access_link": "谁查看过您的档案",
        "auditor": "审计员",
        "export_link": "下载您的全部数据",
        "prepare": "准备我的数据",
        "download": "下载（zip 压缩包）",
        "leave_link": "退出计划",
        "leave_button": "退出并删除我的数据",
        "tick_error": "请勾选方框，确认您要退出。",
        "left": "您已退出城市积分",
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_report_export_access_log_and_leaving_on_a_phone(
    page: Page, residents, check_page, csp_violations, language, tmp_path, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {**settings.STORAGES["private"], "OPTIONS": {"location": tmp_path / "private"}},
    }
    words = LANGUAGES[language]
    resident = residents["mixed"] if language == "en" else residents["recent"]
    email = resident.user.email
    sign_in(page, email)
    if words["switch"]:
        switch_language(page, *words["switch"])

    # The profile links every right.
    page.goto("/me/profile/")
    expect(heading(page)).to_have_text(words["profile"])
    page.get_by_role("link", name=words["report_link"]).click()

    # The report: every record with its source; the PDF has the same text, in the same language.
    expect(heading(page)).to_have_text(words["report"])
    expect(page.locator("li.entry").first).to_be_visible()
    check_page(page, f"rights-report-{language}")
    with page.expect_download() as download:
        page.get_by_role("link", name=words["pdf"]).click()
    with open(download.value.path(), "rb") as downloaded:
        pdf = PdfReader(io.BytesIO(downloaded.read()))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    for expected in words["pdf_text"]:
        assert expected in text, expected

    # The access log: the auditor's visit, by role.
    page.goto("/me/profile/")
    page.get_by_role("link", name=words["access_link"]).click()
    expect(page.locator(".access-list")).to_contain_text(words["auditor"])
    check_page(page, f"rights-access-{language}")

    # The export: asked for, built (eagerly here), downloadable.
    page.goto("/me/profile/")
    page.get_by_role("link", name=words["export_link"]).click()
    page.get_by_role("button", name=words["prepare"]).click()
    expect(page.get_by_role("link", name=words["download"])).to_be_visible()
    check_page(page, f"rights-export-{language}")

    # Leaving: what goes and what stays, a confirmation, then goodbye.
    page.goto("/me/profile/")
    page.get_by_role("link", name=words["leave_link"]).click()
    expect(heading(page)).to_have_text(words["leave_link"])
    check_page(page, f"rights-leave-{language}")
    page.get_by_role("button", name=words["leave_button"]).click()
    # allauth asks for the password again before anything irreversible, then replays the form sent.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    check_page(page, f"rights-reauthenticate-{language}")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error-summary")).to_contain_text(words["tick_error"])
    check_page(page, f"rights-leave-error-{language}")
    page.locator("input[name=confirm]").check()
    page.get_by_role("button", name=words["leave_button"]).click()
    expect(heading(page)).to_have_text(words["left"])
    check_page(page, f"rights-left-{language}")

    assert not User.objects.filter(email=email).exists()
    assert Resident.objects.get(pk=resident.pk).left_at is not None
    call_command("verify_ledger", stdout=io.StringIO())
    call_command("verify_balances", stdout=io.StringIO())
    page.goto("/me/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))  # signed out everywhere
    assert csp_violations == []
