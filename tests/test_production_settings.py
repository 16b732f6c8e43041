"""`check --deploy` must be clean under the production profile (HTTPS cookies, HSTS, CSP, no DEBUG)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    leaks = {"DJANGO_SETTINGS_MODULE", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "EMAIL_URL", "CARD_HASH_KEY", "SITE_URL"}
    environment = {k: v for k, v in os.environ.items() if k not in leaks}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_in_production():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY="x7Kp2Qm9Vt4Lw8Nz3Rb6Yc1Hd5Gf0Js-eAuBoCiDkEmFnGqHrIsJtKuLvMwNxOy",
        ALLOWED_HOSTS="points.example.gov",
        EMAIL_URL="smtp+tls://mailer:secret@smtp.example.gov:587",
        CARD_HASH_KEY="card-key-from-the-secret-store",
        SITE_URL="https://points.example.gov",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_weak_or_missing_configuration():
    base = {
        "DJANGO_ENV": "production",
        "ALLOWED_HOSTS": "points.example.gov",
        "EMAIL_URL": "smtp://h:25",
        "CARD_HASH_KEY": "k",
        "SITE_URL": "https://points.example.gov",
    }
    short_key = run_manage("check", **{**base, "SECRET_KEY": "short"})
    assert short_key.returncode != 0 and "SECRET_KEY" in short_key.stderr
    no_mail = run_manage("check", **{**base, "SECRET_KEY": "k" * 30 + "x7Kp2Qm9Vt4Lw8Nz3Rb6Yc1Hd5", "EMAIL_URL": ""})
    assert no_mail.returncode != 0 and "EMAIL_URL" in no_mail.stderr
    good_key = "k" * 30 + "x7Kp2Qm9Vt4Lw8Nz3Rb6Yc1Hd5"
    for site_url in ("", "http://points.example.gov"):
        no_site = run_manage("check", **{**base, "SECRET_KEY": good_key, "SITE_URL": site_url})
        assert no_site.returncode != 0 and "SITE_URL" in no_site.stderr
