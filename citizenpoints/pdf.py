"""HTML to PDF with WeasyPrint (Pango lays out the text, so Chinese is shaped and embedded from the system's Noto
CJK fonts). Static files are read from disk through Django's finders; nothing is fetched from the network.

Import this module where a PDF is made, not at start-up: WeasyPrint loads Pango and parses its stylesheets on import."""

import logging
import mimetypes

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse


class _ScreenCssNoise(logging.Filter):
    """The page's screen stylesheet uses features WeasyPrint skips (screen-width media queries, accent-color,
    browser-specific selectors); its notice of each would bury the warnings that matter (a missing font or file)."""

    NOISE = ("Ignored `", "Invalid or unsupported selector", "Invalid media type", "Expected a media type")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.NOISE)


logging.getLogger("weasyprint").addFilter(_ScreenCssNoise())

# Relative URLs in the page (/static/...) resolve against this made-up origin, which only the fetcher below answers.
BASE_URL = "https://citypoints.invalid/"


class StaticFilesFetcher(URLFetcher):
    def fetch(self, url, headers=None):
        prefix = BASE_URL + settings.STATIC_URL.lstrip("/")
        if not url.startswith(prefix):
            raise ValueError(f"the report loads only static files, not {url}")
        name = url[len(prefix) :].split("?")[0]
        # The source file (development, tests) or the collected one (production names carry a content hash).
        path = finders.find(name) or (staticfiles_storage.path(name) if staticfiles_storage.exists(name) else None)
        if not path:
            raise ValueError(f"no static file at {url}")
        with open(path, "rb") as handle:
            body = handle.read()
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body, {"Content-Type": content_type})


def html_to_pdf(html: str) -> bytes:
    return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesFetcher()).write_pdf()
