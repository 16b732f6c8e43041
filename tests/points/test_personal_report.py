"""The personal report: a printable page and a PDF from the same template, in the resident's language, free."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from benefits.services.redemptions import redemption_confirm, redemption_verify
from benefits.services.tokens import token_issue
from citizenpoints.services.ingest import card_link
from tests.factories import BenefitFactory, MerchantStaffFactory, ResidentFactory, place_in_tier
from tests.rights_data import history

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident():
    resident = history()["residents"]["mixed"]
    card_link(resident=resident, card_number="330100198001011234")
    cashier = MerchantStaffFactory(merchant__name_en="Riverside Bikes", merchant__name_zh="江畔单车")
    benefit = BenefitFactory(merchant=cashier.merchant, title_en="Deposit-free bike hire", title_zh="免押金租车")
    place_in_tier(resident, "good")
    scan = redemption_verify(acting_user=cashier.user, text=token_issue(resident=resident, benefit=benefit).payload)
    redemption_confirm(acting_user=cashier.user, text=scan.code, nonce="nonce-00000001")
    return resident


def pdf_text(client, language: str) -> str:
    client.cookies["django_language"] = language
    response = client.get(reverse("rights_report_pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_page_shows_score_tier_every_entry_source_badges_and_redemptions(client, resident):
    client.force_login(resident.user)
    page = client.get(reverse("rights_report")).content.decode()
    for text in ("Your personal report", "Score and tier", "Every record", "City Library", "Library loan",
                 "Correction: Library loan", "The library recorded this loan twice.", "Deposit-free bike hire",
                 "Riverside Bikes", "Claims you filed", "Appeals", "What you agreed to",
                 "Download as PDF"):  # fmt: skip
        assert text in page, text
    assert page.count('<li class="entry') == 6  # every entry, not a page of them


def test_the_pdf_text_is_extractable_in_english_and_in_chinese(client, resident):
    client.force_login(resident.user)
    english = pdf_text(client, "en")
    for text in ("Your personal report", "Score and tier", "City Library", "Library loan", "Riverside Bikes"):
        assert text in english, text
    chinese = pdf_text(client, "zh-hans")
    # Chinese glyphs come out as the same characters: the CJK font is embedded and mapped back to Unicode.
    for text in ("个人报告", "市图书馆", "图书借阅", "江畔单车", "免押金租车"):
        assert text in chinese, text


def test_the_pdf_embeds_a_cjk_font(client, resident):
    client.force_login(resident.user)
    client.cookies["django_language"] = "zh-hans"
    reader = PdfReader(io.BytesIO(client.get(reverse("rights_report_pdf")).content))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    assert any("CJK" in font for font in fonts), fonts


def test_the_report_is_free_and_unlimited(client, resident):
    client.force_login(resident.user)
    for _ in range(3):
        assert client.get(reverse("rights_report_pdf")).status_code == 200


def test_only_a_resident_sees_a_report(client):
    assert client.get(reverse("rights_report")).status_code == 302
    newcomer = ResidentFactory()
    client.force_login(newcomer.user)
    page = client.get(reverse("rights_report")).content.decode()
    assert "No points yet" in page and "You have not used a benefit yet." in page
