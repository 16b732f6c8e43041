"""The QR token: short, signed, short-lived, bound to one resident and one benefit.

Format. A token row has an 8-character `code` (40 random bits, Crockford base32: digits and capitals without I, L,
O, U, so nothing reads two ways). The QR carries `code` followed by a 13-character MAC of it (65 bits of an
HMAC-SHA256 keyed from SECRET_KEY through `salted_hmac`): 21 characters, all in the QR "alphanumeric" set, which fits
a version 2 symbol (25×25 modules) at error correction M that cheap cameras read. The MAC lets a scanner reject a
made-up or foreign QR before any lookup; the row binds the code to the resident, the benefit and an expiry a minute
away. A cashier may type the 8-character code instead; typed codes carry no MAC, so scan attempts are rate-limited
per staff account (see redemptions), and 40 bits leave a guesser nothing to find among the few live codes.
"""

import base64
import datetime
import io
import secrets
from dataclasses import dataclass

import qrcode
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from benefits import conf
from benefits.exceptions import refuse
from benefits.models import Benefit, RedemptionToken
from benefits.selectors import benefit_refusal
from benefits.services.ratelimits import rate_hit
from citizenpoints.models import Resident

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
MAC_LENGTH = 13
QR_LENGTH = CODE_LENGTH + MAC_LENGTH
# Crockford's reading rules for what a person types: O is zero, I and L are one.
_TYPED = str.maketrans({"O": "0", "I": "1", "L": "1"})
_MAC_SALT = "citypoints.benefits.token"


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def new_code() -> str:
    return _encode(secrets.randbits(5 * CODE_LENGTH), CODE_LENGTH)


def code_mac(code: str) -> str:
    digest = salted_hmac(_MAC_SALT, code, algorithm="sha256").digest()
    return _encode(int.from_bytes(digest[:9]) >> (72 - 5 * MAC_LENGTH), MAC_LENGTH)


def qr_payload(code: str) -> str:
    return code + code_mac(code)


@dataclass(frozen=True)
class ParsedCode:
    code: str
    signed: bool  # read from the QR (MAC checked) rather than typed


def token_parse(text: str) -> ParsedCode:
    """Read what the scanner saw or the cashier typed. Raises RedemptionError `forged` for anything not ours."""
    cleaned = "".join((text or "").split()).replace("-", "").upper()
    if len(cleaned) == CODE_LENGTH:
        cleaned = cleaned.translate(_TYPED)
    if len(cleaned) not in (CODE_LENGTH, QR_LENGTH) or any(char not in ALPHABET for char in cleaned):
        raise refuse("forged")
    code = cleaned[:CODE_LENGTH]
    if len(cleaned) == QR_LENGTH:
        if not constant_time_compare(cleaned[CODE_LENGTH:], code_mac(code)):
            raise refuse("forged")
        return ParsedCode(code=code, signed=True)
    return ParsedCode(code=code, signed=False)


def qr_png(payload: str, *, box_size: int = 10) -> bytes:
    """A black-on-white PNG of the payload with the standard four-module quiet zone."""
    symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    symbol.add_data(payload)
    symbol.make(fit=True)
    buffer = io.BytesIO()
    symbol.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def qr_data_uri(payload: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode("ascii")


def qr_version(payload: str) -> int:
    symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    symbol.add_data(payload)
    symbol.make(fit=True)
    return symbol.version


@dataclass(frozen=True)
class IssuedToken:
    token: RedemptionToken
    payload: str  # what the QR encodes

    @property
    def short_code(self) -> str:
        """The code as shown for typing: two groups of four."""
        return f"{self.token.code[:4]}-{self.token.code[4:]}"


def token_issue(*, resident: Resident, benefit: Benefit, now: datetime.datetime | None = None) -> IssuedToken:
    """A fresh token for `resident` to show for `benefit`, valid for `conf.token_ttl()`.

    Refuses (RedemptionError, resident wording) what the counter would refuse anyway: a paused or out-of-date
    benefit, a tier too low now, a quota used up, the resident's limit reached. Earlier tokens stay valid until they
    expire, so a refresh never spoils a scan in progress; only one of them can be redeemed while the limit allows one.
    Rate-limited per resident.
    """
    now = now or timezone.now()
    if not rate_hit(scope="issue", key=resident.pk, limit=conf.token_issue_rate()):
        raise refuse("rate_limited", audience="resident")
    refusal = benefit_refusal(resident=resident, benefit=benefit, now=now)
    if refusal is not None:
        code, extra = refusal
        raise refuse(code, audience="resident", **extra)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                token = RedemptionToken.objects.create(
                    code=new_code(),
                    resident=resident,
                    benefit=benefit,
                    issued_at=now,
                    expires_at=now + conf.token_ttl(),
                )
        except IntegrityError:  # a code collision: 1 in 2^40 per live code; draw again
            continue
        return IssuedToken(token=token, payload=qr_payload(token.code))
    raise RuntimeError("could not draw a free token code")


def tokens_purge(*, older_than: datetime.timedelta = datetime.timedelta(days=1)) -> int:
    """Delete unredeemed tokens that expired long ago (redeemed ones stay with their redemption). Returns count."""
    cutoff = timezone.now() - older_than
    deleted, _ = RedemptionToken.objects.filter(expires_at__lt=cutoff, used_at__isnull=True).delete()
    return deleted
