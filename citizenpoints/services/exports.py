"""A resident's copy of everything held about them: requested on a page, built by a Celery task, downloadable by
them alone for a limited time, then deleted by the nightly task.

The archive holds data.json (every table), one CSV per table and README.txt explaining each file and field in the
resident's language. The tables come from the personal-data registry (citizenpoints.personal_data), so an app that
holds resident data exports it by registering it.
"""

import csv
import datetime
import io
import json
import tempfile
import zipfile

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import OperationalError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import ExportRequest, Resident, User
from citizenpoints.personal_data import column_help, column_label, datasets

FORMAT = "citypoints-export/1"


def private_storage():
    """Files only their owner may download, through a view that checks; never served under MEDIA_URL."""
    return storages["private"]


def export_request(*, resident: Resident, acting_user: User) -> ExportRequest:
    """Ask for a fresh export of `resident`'s data (their own only). Idempotent while one is being prepared: the
    pending request is returned. The archive is built after commit by `tasks.build_export`. Refuses `not_allowed`,
    `already_left`."""
    if acting_user is None or acting_user.pk != resident.user_id:
        raise ApplicationError(_("You can only export your own data."), code="not_allowed")
    if resident.left_at is not None:
        raise ApplicationError(_("You have left the programme."), code="already_left")
    from citizenpoints.tasks import build_export  # tasks import services

    with transaction.atomic():
        Resident.objects.select_for_update().filter(pk=resident.pk).first()  # one pending request per resident
        pending = ExportRequest.objects.filter(resident=resident, status=ExportRequest.Status.PENDING).first()
        if pending is not None:
            return pending
        export = ExportRequest.objects.create(resident=resident)
        transaction.on_commit(lambda: build_export.delay(export_id=str(export.pk)))
    return export


def export_archive(*, resident: Resident, now: datetime.datetime) -> bytes:
    """The zip of everything held about `resident`, in memory (a resident's data is small: kilobytes to a few MB)."""
    tables: dict[str, list[dict]] = {}
    for dataset in datasets():
        tables[dataset.name] = list(dataset.rows(resident).values(*dataset.columns))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        document = {
            "format": FORMAT,
            "generated_at": now,
            "resident_id": resident.pk,
            "tables": tables,
        }
        archive.writestr("data.json", json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1))
        for dataset in datasets():
            archive.writestr(f"{dataset.name}.csv", _csv(dataset.columns, tables[dataset.name]))
        with translation.override(resident.language):
            archive.writestr("README.txt", _readme(now=now, tables=tables))
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    return str(value)


def _csv(columns, rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
    # A byte-order mark so spreadsheet programs open the Chinese text as UTF-8.
    return "\ufeff" + out.getvalue()


def _readme(*, now: datetime.datetime, tables: dict[str, list[dict]]) -> str:
    lines = [
        _("CityPoints: everything we hold about you"),
        "",
        _("Made on %(when)s. Times are in UTC (ISO 8601); points and amounts have two decimals.")
        % {"when": now.astimezone(datetime.UTC).isoformat(timespec="seconds")},
        _("data.json holds every table below; each table is also a CSV file of the same name (UTF-8)."),
        _("Staff who acted on your records appear by role only, never by name."),
        "",
    ]
    for dataset in datasets():
        lines += [
            f"{dataset.name}.csv ({_('%(count)s rows') % {'count': len(tables[dataset.name])}})",
            f"  {dataset.about}",
            f"  {dataset.on_leave.label}",
        ]
        for column in dataset.columns:
            label = column_label(dataset.model, column)
            help_text = column_help(dataset.model, column)
            lines.append(f"  - {column}: {label}" + (f". {help_text}" if help_text else ""))
        lines.append("")
    return "\n".join(lines)


def export_build(*, export_id, now: datetime.datetime | None = None) -> ExportRequest:
    """Build a pending export's archive into private storage and make it downloadable until now + the export days.

    Idempotent: an export no longer pending is returned as it is. A failure marks it failed (and re-raises).
    """
    now = now or timezone.now()
    export = ExportRequest.objects.select_related("resident").get(pk=export_id)
    if export.status != ExportRequest.Status.PENDING:
        return export
    try:
        content = export_archive(resident=export.resident, now=now)
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            spool.write(content)
            spool.seek(0)
            name = private_storage().save(f"exports/{export.pk}.zip", File(spool))
    except OperationalError:
        raise  # the task retries: the export stays pending
    except Exception:
        ExportRequest.objects.filter(pk=export.pk).update(status=ExportRequest.Status.FAILED)
        raise
    updated = ExportRequest.objects.filter(pk=export.pk, status=ExportRequest.Status.PENDING).update(
        status=ExportRequest.Status.READY,
        ready_at=now,
        expires_at=now + datetime.timedelta(days=settings.CITYPOINTS_EXPORT_DAYS),
        file_name=name,
        size=len(content),
    )
    if not updated:  # the resident left while it was being built
        private_storage().delete(name)
    export.refresh_from_db()
    return export


def exports_expire(*, now: datetime.datetime | None = None) -> int:
    """Delete the files of exports past their time, and mark them expired. Returns how many."""
    now = now or timezone.now()
    storage = private_storage()
    expired = list(
        ExportRequest.objects.filter(status=ExportRequest.Status.READY, expires_at__lte=now).values_list(
            "pk", "file_name"
        )
    )
    for _pk, name in expired:
        if name:
            storage.delete(name)
    ExportRequest.objects.filter(pk__in=[pk for pk, _name in expired]).update(
        status=ExportRequest.Status.EXPIRED, file_name=""
    )
    return len(expired)


def exports_delete(*, resident: Resident) -> None:
    """Delete every export of `resident`, rows now and files once the caller's transaction commits."""
    names = [
        name for name in ExportRequest.objects.filter(resident=resident).values_list("file_name", flat=True) if name
    ]
    ExportRequest.objects.filter(resident=resident).delete()
    storage = private_storage()
    transaction.on_commit(lambda: [storage.delete(name) for name in names])
