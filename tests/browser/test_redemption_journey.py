"""The moment at the counter in real Chromium: the resident's phone shows a QR, the cashier's phone scans it.

The cashier's browser is a separate Chromium launch whose camera is Chromium's fake capture device playing a Y4M
video made from a screenshot of the QR the resident's page rendered, so the QR travels the way light would: pixels
on one screen, a camera frame, the vendored decoder on the other phone. Both screens must then show the result.
"""

import io
import os
import re
import shutil
from pathlib import Path

import pytest
import zxingcpp
from django.test import Client
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from benefits.models import Redemption
from benefits.services.redemptions import redemption_confirm
from benefits.services.tokens import token_issue
from tests.conftest import CHROMIUM, PHONE
from tests.factories import (
    BenefitFactory,
    MerchantLocationFactory,
    MerchantStaffFactory,
    ResidentFactory,
    place_in_tier,
    tier,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


@pytest.fixture
def counter():
    """A benefit at a partner, a resident whose tier unlocks it, and a cashier at one of the partner's counters."""
    staff = MerchantStaffFactory(merchant__name_en="West Lake Bike Hire", merchant__name_zh="西湖单车租赁")
    staff.location = MerchantLocationFactory(
        merchant=staff.merchant, name_en="Broken Bridge kiosk", name_zh="断桥租车点"
    )
    staff.save()
    benefit = BenefitFactory(
        merchant=staff.merchant,
        title_en="Deposit-free bike hire",
        title_zh="免押金租自行车",
        terms_en="Hire a city bike without the 200 yuan deposit. Up to 2 hours.",
        terms_zh="租用城市自行车免交200元押金，最长2小时。",
        limit_count=2,
        limit_period="day",
    )
    resident = ResidentFactory(given_name="Wei")
    place_in_tier(resident, "good")
    return {"benefit": benefit, "resident": resident, "staff": staff}


def sign_in(context: BrowserContext, base_url: str, user, language: str = "en") -> None:
    """Put a signed-in session cookie in the browser (signing in through the form is the onboarding tests' job)."""
    cookies = [{"name": "django_language", "value": language, "url": base_url}]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookies.append({"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url})
    context.add_cookies(cookies)


@pytest.fixture
def phone(browser: Browser, base_url):
    """Open a phone-sized browser context (closed after the test, so no page keeps polling the server)."""
    contexts: list[BrowserContext] = []

    def open_phone(user, language: str = "en", on: Browser | None = None, **options) -> BrowserContext:
        context = (on or browser).new_context(viewport=PHONE, device_scale_factor=2, base_url=base_url, **options)
        contexts.append(context)
        sign_in(context, base_url, user, language)
        return context

    yield open_phone
    for context in contexts:
        context.close()


@pytest.fixture
def check_screen(axe_check, screenshot):
    """Nothing wider than the phone, axe-clean, and saved for a person to look at.

    Other suites' browser runs clear test-results/ when they start; SCREENSHOT_COPY=<dir> keeps a copy too."""
    copy_to = os.environ.get("SCREENSHOT_COPY")

    def check(page: Page, name: str) -> None:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{page.url} is {overflow}px wider than the phone"
        axe_check(page)
        path = screenshot(page, name)
        if copy_to:
            Path(copy_to).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(copy_to) / path.name)

    return check


def watch_csp(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


def rendered_qr(page: Page) -> Image.Image:
    """The QR exactly as the resident's screen shows it (a screenshot of the element, at the phone's pixel ratio),
    once the image is decoded: the screen swaps in a new code every 20 s."""
    page.wait_for_function(
        "() => { const qr = document.getElementById('qr-image'); return qr.complete && qr.naturalWidth > 0; }"
    )
    return Image.open(io.BytesIO(page.locator("#qr-image").screenshot())).convert("RGB")


def write_y4m(qr: Image.Image, path: Path, size=(640, 480)) -> Path:
    """A one-frame YUV4MPEG2 (4:2:0) video of the QR on white, as a phone camera held over the screen would see it.

    Chromium's fake capture device loops it."""
    frame = Image.new("RGB", size, "white")
    side = min(size) - 80
    qr = qr.resize((side, side), Image.Resampling.LANCZOS)
    frame.paste(qr, ((size[0] - side) // 2, (size[1] - side) // 2))
    y, u, v = frame.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        out.write(b"FRAME\n")
        out.write(y.tobytes())
        out.write(u.resize(half, Image.Resampling.BILINEAR).tobytes())
        out.write(v.resize(half, Image.Resampling.BILINEAR).tobytes())
    return path


def open_qr(context: BrowserContext, benefit) -> tuple[Page, list[str]]:
    page = context.new_page()
    csp = watch_csp(page)
    page.goto(f"/benefits/{benefit.pk}/use/")
    expect(page.locator("#qr-image")).to_be_visible()
    return page, csp


def expect_redeemed_on_both(resident_page: Page, cashier_page: Page, benefit) -> None:
    expect(cashier_page.locator("#redeemed")).to_contain_text("Redeemed")
    expect(cashier_page.locator("#redeemed")).to_contain_text(benefit.title_en)
    result = resident_page.locator("#qr-result")
    expect(result).to_be_visible(timeout=10_000)
    expect(result).to_contain_text("Redeemed")
    expect(result).to_contain_text("Broken Bridge kiosk")
    expect(resident_page.locator("#qr-panel")).to_be_hidden()


def test_resident_shows_the_qr_and_the_cashier_scans_it_with_the_camera(
    playwright, phone, counter, tmp_path, check_screen
):
    benefit, resident, staff = counter["benefit"], counter["resident"], counter["staff"]
    resident_page, resident_csp = open_qr(phone(resident.user), benefit)
    check_screen(resident_page, "redeem-qr-en")
    video = write_y4m(rendered_qr(resident_page), tmp_path / "qr.y4m")

    # The cashier's phone: another Chromium, whose camera films the resident's screen.
    cashier_browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=["--no-sandbox", "--disable-gpu", *FAKE_CAMERA_ARGS, f"--use-file-for-fake-video-capture={video}"],
    )
    try:
        cashier = phone(staff.user, on=cashier_browser, permissions=["camera"]).new_page()
        cashier_csp = watch_csp(cashier)
        cashier.goto("/counter/")
        check_screen(cashier, "counter-scan-en")
        cashier.get_by_role("button", name="Scan with the camera").click()

        # Decoding camera frames takes longest of anything here when the machine is busy (it once took over 15 s).
        expect(cashier).to_have_url(re.compile(r"/counter/verify/$"), timeout=40_000)
        result = cashier.locator("#scan-result")
        expect(result).to_contain_text("Deposit-free bike hire")
        expect(result).to_contain_text("Good")
        expect(result).to_contain_text("W. (initial only)")
        expect(result).not_to_contain_text("Wei")
        check_screen(cashier, "counter-verify-en")

        cashier.get_by_role("button", name="Confirm").click()
        expect_redeemed_on_both(resident_page, cashier, benefit)
        check_screen(cashier, "counter-done-en")
        check_screen(resident_page, "redeem-done-en")
        assert cashier_csp == [] and resident_csp == []
        cashier.context.close()
    finally:
        cashier_browser.close()
    assert Redemption.objects.get().staff == staff


def test_the_cashier_types_the_short_code(phone, counter, check_screen):
    benefit, resident, staff = counter["benefit"], counter["resident"], counter["staff"]
    resident_page, _ = open_qr(phone(resident.user, "zh-hans"), benefit)
    check_screen(resident_page, "redeem-qr-zh")
    short_code = resident_page.locator("#short-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", short_code)

    cashier = phone(staff.user).new_page()
    cashier.goto("/counter/")
    cashier.get_by_label("Short code").fill(short_code.lower().replace("-", " "))
    cashier.get_by_role("button", name="Check code").click()
    expect(cashier.locator("#scan-result")).to_contain_text("Deposit-free bike hire")
    cashier.get_by_role("button", name="Confirm").click()

    expect(cashier.locator("#redeemed")).to_contain_text("Redeemed")
    expect(resident_page.locator("#qr-result")).to_be_visible(timeout=10_000)
    expect(resident_page.locator("#qr-result")).to_contain_text("已使用")
    check_screen(resident_page, "redeem-done-zh")

    # The same code again: refused, with the reason in words and its code.
    cashier.goto("/counter/")
    cashier.get_by_label("Short code").fill(short_code)
    cashier.get_by_role("button", name="Check code").click()
    expect(cashier.locator("#refusal")).to_contain_text("already been used")
    check_screen(cashier, "counter-refused-en")


def test_an_independent_decoder_reads_the_rendered_qr_and_redeems_with_it(phone, counter):
    benefit, resident, staff = counter["benefit"], counter["resident"], counter["staff"]
    page, _ = open_qr(phone(resident.user), benefit)

    [read] = zxingcpp.read_barcodes(rendered_qr(page))

    assert read.format == zxingcpp.BarcodeFormat.QRCode
    assert read.symbology_identifier  # a real QR symbol, decoded from pixels
    redemption = redemption_confirm(acting_user=staff.user, text=read.text, nonce="zxing-cpp-0001")
    assert (redemption.resident, redemption.benefit) == (resident, benefit)
    expect(page.locator("#qr-result")).to_be_visible(timeout=10_000)


def test_benefit_screens_in_both_languages(phone, counter, check_screen):
    """Every other screen of the benefits, as residents and partner staff meet them, in English and Chinese."""
    benefit, resident, staff = counter["benefit"], counter["resident"], counter["staff"]
    BenefitFactory(
        merchant=benefit.merchant,
        family="travel",
        title_en="West Lake boat tour at 30% off",
        title_zh="西湖游船七折",
        min_tier=tier("outstanding"),
        quota=200,
    )
    BenefitFactory(
        family="library", title_en="Deposit-free library loans", title_zh="免押金借阅", min_tier=tier("good")
    )
    BenefitFactory(
        family="fitness", title_en="Half-price gym day pass", title_zh="健身日票半价", min_tier=tier("very-good")
    )
    redemption_confirm(
        acting_user=staff.user,
        text=token_issue(resident=resident, benefit=benefit).payload,
        nonce="screens-000001",
    )
    for language, suffix in (("en", "en"), ("zh-hans", "zh")):
        page = phone(resident.user, language).new_page()
        page.goto("/benefits/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        check_screen(page, f"benefits-catalogue-{suffix}")
        page.goto(f"/benefits/{benefit.pk}/")
        check_screen(page, f"benefits-detail-{suffix}")
        page.goto("/benefits/used/")
        check_screen(page, f"benefits-used-{suffix}")
        counter_page = phone(staff.user, language).new_page()
        counter_page.goto("/counter/redemptions/")
        expect(counter_page.locator("#total-today")).to_have_text("1")
        check_screen(counter_page, f"counter-history-{suffix}")
        counter_page.goto("/counter/")
        check_screen(counter_page, f"counter-scan-{suffix}")
    anonymous = phone(None).new_page()
    anonymous.goto("/benefits/")
    check_screen(anonymous, "benefits-catalogue-public-en")
