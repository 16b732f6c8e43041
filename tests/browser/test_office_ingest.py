"""The data-source screens and the resident's card page, as people see them on a phone."""

import datetime

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from citizenpoints.models import DataSource
from tests.factories import ResidentFactory, UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, user, live_server):
    """Reuse Django's session for the browser (the sign-in page itself is tested in test_onboarding)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_a_data_source_manager_creates_a_key_and_checks_a_csv(page, live_server, axe_check, screenshot, tmp_path):
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆", contact="it@lib")
    published_catalogue(sources=[library], behaviours=[{"code": "library-loan", "rule": {"points": 1}}])
    sign_in(page, UserFactory(roles=["data_source_manager"], mfa=True), live_server)

    page.goto(f"{live_server.url}/office/sources/")
    axe_check(page)
    screenshot(page, "office-sources-en")
    page.get_by_role("link", name="City Library").click()
    page.get_by_label("What the key is for").fill("nightly export")
    page.get_by_role("button", name="Create a key").click()
    expect(page.get_by_text("it is shown only once")).to_be_visible()
    assert page.get_by_label("Key for “nightly export”").input_value().startswith("cp_")
    axe_check(page)
    screenshot(page, "office-key-created-en")

    page.get_by_role("link", name="I have stored it safely").click()
    page.get_by_role("link", name="Upload a CSV file").click()
    when = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)).isoformat()
    csv_file = tmp_path / "loans.csv"
    csv_file.write_text(
        "external_id,card_number,behaviour_code,occurred_at\n"
        f"loan-1,330100199001011234,library-loan,{when}\n"
        "loan-2,330100199001011234,library-loan,last tuesday\n",
        encoding="utf-8",
    )
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="If you confirm now")).to_be_visible()
    expect(page.get_by_text("occurred_at must be an ISO 8601 date and time")).to_be_visible()
    axe_check(page)
    screenshot(page, "office-batch-preview-en")


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_resident_links_a_card(page, live_server, axe_check, screenshot, language):
    resident = ResidentFactory(language=language)
    sign_in(page, resident.user, live_server)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page.goto(f"{live_server.url}/me/card/")
    axe_check(page)
    page.locator("#id_card_number").fill("3301 0019 9001 011234")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator(".message.success")).to_be_visible()
    assert "330100199001011234" not in page.content()
    axe_check(page)
    screenshot(page, f"card-{'zh' if language == 'zh-hans' else 'en'}")
