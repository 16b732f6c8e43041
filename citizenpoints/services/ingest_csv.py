"""CSV uploads for departments without an API: read the file, then the same pipeline as the API."""

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import DataSource, IngestBatch, OfficeRole, User
from citizenpoints.services.audit import audit_record
from citizenpoints.services.ingest import batch_receive
from citizenpoints.services.permissions import require_role

REQUIRED_COLUMNS = ("external_id", "card_number", "behaviour_code", "occurred_at")
OPTIONAL_COLUMNS = ("quantity", "amount")


@dataclass
class CsvContent:
    records: list[dict]
    encoding: str
    warnings: list[str] = field(default_factory=list)


def _decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without a BOM), else GB18030, the superset of GBK that Chinese spreadsheets save."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8 (BOM)"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GBK/GB18030"
    except UnicodeDecodeError as error:
        raise ApplicationError(
            _("The file is not text in UTF-8 or GBK. Save it as “CSV UTF-8” and upload it again."),
            code="encoding_unknown",
        ) from error


def csv_read(*, file) -> CsvContent:
    """Parse an uploaded file (anything with `.size` and `.read()`). Refuses, before anything is stored:
    `file_too_large` (checked before reading), `empty_file`, `encoding_unknown`, `missing_columns`,
    `duplicate_columns`, `too_many_rows`. Rows with bad values are kept: they become `malformed` results with
    their line numbers."""
    limit = settings.CITYPOINTS_CSV_MAX_BYTES
    if file.size > limit:
        raise ApplicationError(
            _("The file is %(size)s MB; uploads are limited to %(limit)s MB (10,000 records). Split it.")
            % {"size": f"{file.size / 1e6:.1f}", "limit": f"{limit / 1e6:.0f}"},
            code="file_too_large",
        )
    text, encoding = _decode(file.read())
    if not text.strip():
        raise ApplicationError(_("The file is empty."), code="empty_file")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [column.strip().lstrip("\ufeff").lower() for column in next(reader)]
    duplicates = sorted({column for column in header if column and header.count(column) > 1})
    if duplicates:
        raise ApplicationError(
            _("These columns appear more than once: %(columns)s.") % {"columns": ", ".join(duplicates)},
            code="duplicate_columns",
        )
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ApplicationError(
            _("The first line must name the columns; missing: %(columns)s.") % {"columns": ", ".join(missing)},
            code="missing_columns",
            extra={"required": list(REQUIRED_COLUMNS), "optional": list(OPTIONAL_COLUMNS)},
        )
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    warnings = [_("Column “%(column)s” is not used.") % {"column": c} for c in header if c and c not in known]
    records = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        records.append({column: value.strip() for column, value in zip(header, row, strict=False) if column in known})
        if len(records) > settings.CITYPOINTS_INGEST_MAX_RECORDS:
            raise ApplicationError(
                _("A file holds at most %(limit)s records. Split it.")
                % {"limit": f"{settings.CITYPOINTS_INGEST_MAX_RECORDS:,}"},
                code="too_many_rows",
            )
    if not records:
        raise ApplicationError(_("The file has a header but no records."), code="empty_file")
    return CsvContent(records=records, encoding=encoding, warnings=warnings)


def csv_upload(*, acting_user: User, source: DataSource, file) -> tuple[IngestBatch, CsvContent]:
    """Store an upload as a batch waiting for confirmation (card numbers are hashed on the way in; the file
    itself is not kept). Uploading the same file again returns the same batch."""
    require_role(acting_user, OfficeRole.DATA_SOURCE_MANAGER)
    content = csv_read(file=file)
    received = batch_receive(
        source=source,
        idempotency_key=f"csv:{hashlib.sha256(json.dumps(content.records, sort_keys=True).encode()).hexdigest()}",
        records=content.records,
        channel=IngestBatch.Channel.CSV,
        uploaded_by=acting_user,
        preview=True,
    )
    if received.created:
        audit_record(
            actor=acting_user, action="ingest.upload_csv", obj=received.batch, after={"records": len(content.records)}
        )
    return received.batch, content
