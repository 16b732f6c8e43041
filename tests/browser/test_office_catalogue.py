"""The catalogue editor's draft page with its changes, at phone size."""

import pytest
from playwright.sync_api import expect

from citizenpoints.models import DataSource
from tests.browser.test_office_ingest import sign_in
from tests.factories import UserFactory, published_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_editor_changes_a_rule_and_sees_the_difference(page, live_server, axe_check, screenshot):
    library = DataSource.objects.create(code="library", name_en="City Library", name_zh="市图书馆")
    published_catalogue(sources=[library], behaviours=[{"code": "library-loan", "rule": {"points": 1}}])
    sign_in(page, UserFactory(roles=["catalogue_editor"], mfa=True), live_server)

    page.goto(f"{live_server.url}/office/catalogue/")
    page.get_by_role("button", name="Start a draft from the published version").click()
    page.get_by_role("link", name="Edit library-loan").click()
    expect(page.get_by_label("Points per record", exact=True)).to_be_visible()
    axe_check(page)
    page.get_by_label("Points per record", exact=True).fill("2")
    page.get_by_label("At most per day").fill("4")
    page.get_by_role("button", name="Save in the draft").click()
    expect(page.get_by_text("2 points per record").first).to_be_visible()
    axe_check(page)
    screenshot(page, "office-catalogue-draft-en")
