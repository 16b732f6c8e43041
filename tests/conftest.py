import datetime
import importlib
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import translation

# pytest-django's live_server runs beside Playwright's sync API, which keeps an event loop in this thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = bool(os.environ.get("CI"))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOTS_DIR") or Path(__file__).resolve().parent.parent / "test-results" / "screenshots"
)
PHONE = {"width": 360, "height": 780}


def skip_or_fail(reason: str) -> None:
    """Outside CI a missing service skips with its reason; in CI it is a failure, so nothing silently skips."""
    if IN_CI:
        pytest.fail(f"CI must not skip: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in English: a request in Chinese leaves its language active in the thread, and services
    called directly afterwards would word their results in it."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def pytest_collection_modifyitems(items):
    """Every transactional test restores the database it flushed (serialized_rollback). Mixing the two kinds breaks
    Django: a plain flush re-creates content types, which the next serialized reload then inserts twice."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            serialized = pytest.mark.django_db(*marker.args, **{**marker.kwargs, "serialized_rollback": True})
            item.add_marker(serialized, append=False)


@pytest.fixture(autouse=True)
def _programme_seed(request):
    """Transactional tests flush the database, taking the migrations' seed (office roles, categories, tier schemes,
    badges, the scoring window) with it. Django's serialized_rollback is meant to restore it but silently does
    nothing once Playwright's event loop runs in the thread, so re-apply the seed migrations' own idempotent
    functions whenever it is missing."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps
    from django.contrib.auth.models import Group

    from citizenpoints.models import TierScheme

    if TierScheme.objects.exists() and Group.objects.exists():
        return
    for module in ("0002_office_role_groups", "0005_seed_programme"):
        migration = importlib.import_module(f"citizenpoints.migrations.{module}")
        (migration.create_groups if hasattr(migration, "create_groups") else migration.seed)(apps, None)


@pytest.fixture(autouse=True)
def _scoring_window_from_the_start(request, _programme_seed):
    """The scoring window's row is written when the test database is migrated (or the seed re-applied), on the real
    date, and awards refuse what happened before it: a test frozen at an earlier NOW found its own recent awards
    "outside the window" once the calendar moved on. Start the row before any test's time; every award still checks
    the 12 months before its own now, and tests about the window set the row themselves."""
    uses = set(request.fixturenames)
    if request.node.get_closest_marker("django_db") is None and not uses & {"db", "transactional_db", "live_server"}:
        return
    request.getfixturevalue("transactional_db" if uses & {"transactional_db", "live_server"} else "db")
    from citizenpoints.models import ScoringWindow

    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    ScoringWindow.objects.update_or_create(pk=1, defaults={"starts_at": start})


@pytest.fixture(autouse=True)
def _require_marked_services(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://... (row locks and triggers are the point)")
    if request.node.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        skip_or_fail("needs a Redis broker: set REDIS_URL=redis://127.0.0.1:6379/15")
    if request.node.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        skip_or_fail(f"needs Chromium at {CHROMIUM} (make system-packages installs Debian's)")


# --- Browser tests: Debian's Chromium through Playwright, at phone size.
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE, "device_scale_factor": 2, "locale": "en-GB"}


@pytest.fixture
def axe_check():
    """Run axe-core on the page; fail listing every violation."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page) -> None:
        # axe reads document.documentElement: a page still navigating has none yet.
        page.wait_for_load_state("load")
        results = axe.run(page)
        assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"

    return check


@pytest.fixture
def screenshot():
    """Save a full-page phone-size screenshot under test-results/screenshots for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def csp_violations(page):
    """Console messages the browser logs when the Content Security Policy blocks something."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen
