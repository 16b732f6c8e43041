"""Timings and limits of the QR redemption, each overridable from settings (names prefixed BENEFITS_)."""

import datetime

from django.conf import settings


def _setting(name: str, default):
    return getattr(settings, f"BENEFITS_{name}", default)


def token_ttl() -> datetime.timedelta:
    """How long a freshly shown QR stays valid: long enough to scan, too short for a screenshot to be worth keeping."""
    return datetime.timedelta(seconds=_setting("TOKEN_TTL_SECONDS", 60))


def token_refresh_seconds() -> int:
    """How often the resident's screen swaps in a new code while it is open (ticketing apps rotate every 15-30 s)."""
    return _setting("TOKEN_REFRESH_SECONDS", 20)


def confirm_grace() -> datetime.timedelta:
    """A token scanned while live may still be confirmed this long after the scan (the cashier reads, then taps)."""
    return datetime.timedelta(seconds=_setting("CONFIRM_GRACE_SECONDS", 90))


def scan_rate() -> tuple[int, int]:
    """(attempts, seconds): scans and confirmations one staff account may make in that time (a redemption is one
    of each; a cashier does a few a minute)."""
    return _setting("SCAN_RATE", (60, 60))


def failed_scan_rate() -> tuple[int, int]:
    """(failures, seconds): unknown or forged codes one staff account may try; what stops guessing short codes."""
    return _setting("FAILED_SCAN_RATE", (10, 600))


def token_issue_rate() -> tuple[int, int]:
    """(tokens, seconds) one resident may be issued; the open QR screen needs about three a minute."""
    return _setting("TOKEN_ISSUE_RATE", (30, 60))
