"""Data sources in the office console: keys, CSV uploads, batch results."""

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from citizenpoints.exceptions import ApplicationError
from citizenpoints.models import ApiKey, Behaviour, CatalogueVersion, DataSource, IngestBatch, IngestRecord, OfficeRole
from citizenpoints.office.access import office_role_required
from citizenpoints.office.forms import ApiKeyForm, CsvUploadForm, DataSourceForm
from citizenpoints.services.ingest import (
    DATA_SOURCE_FIELDS,
    api_key_create,
    api_key_revoke,
    batch_confirm,
    batch_dry_run,
    data_source_save,
)
from citizenpoints.services.ingest_csv import csv_upload

MANAGERS = (OfficeRole.DATA_SOURCE_MANAGER,)
READERS = (OfficeRole.DATA_SOURCE_MANAGER, OfficeRole.AUDITOR)


@office_role_required(*READERS)
def source_list(request):
    sources = DataSource.objects.filter(kind=DataSource.Kind.DEPARTMENT).order_by("name_en")
    return render(request, "office/sources.html", {"sources": sources})


@office_role_required(*MANAGERS)
def source_edit(request, code=None):
    source = get_object_or_404(DataSource, code=code, kind=DataSource.Kind.DEPARTMENT) if code else None
    initial = {name: getattr(source, name) for name in ("code", *DATA_SOURCE_FIELDS)} if source else None
    form = DataSourceForm(request.POST or None, initial=initial)
    if source:
        form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in DATA_SOURCE_FIELDS}
        try:
            source = data_source_save(acting_user=request.user, source=source, code=form.cleaned_data["code"], **fields)
        except ApplicationError as error:
            form.add_error("code", error.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("office:source", code=source.code)
    return render(request, "office/source_form.html", {"form": form, "source": source})


@office_role_required(*READERS)
def source_detail(request, code):
    source = get_object_or_404(DataSource, code=code)
    behaviours = Behaviour.objects.filter(
        version__status=CatalogueVersion.Status.PUBLISHED, sources=source
    ).select_related("category")
    context = {
        "source": source,
        "behaviours": behaviours,
        "keys": source.api_keys.all(),
        "batches": source.batches.all()[:20],
        "key_form": ApiKeyForm(),
    }
    return render(request, "office/source_detail.html", context)


@require_POST
@office_role_required(*MANAGERS)
def key_create(request, code):
    source = get_object_or_404(DataSource, code=code)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say what the key is for."))
        return redirect("office:source", code=code)
    key, secret = api_key_create(acting_user=request.user, source=source, label=form.cleaned_data["label"])
    # Rendered, not redirected: the secret exists only in this response.
    response = render(request, "office/key_created.html", {"source": source, "key": key, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@office_role_required(*MANAGERS)
def key_revoke(request, code, key_id):
    key = get_object_or_404(ApiKey, pk=key_id, source__code=code)
    api_key_revoke(acting_user=request.user, key=key)
    messages.success(request, _("Key %(prefix)s… is revoked: requests with it are refused.") % {"prefix": key.prefix})
    return redirect("office:source", code=code)


@office_role_required(*MANAGERS)
def upload(request, code):
    source = get_object_or_404(DataSource, code=code)
    form = CsvUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch, content = csv_upload(acting_user=request.user, source=source, file=form.cleaned_data["file"])
        except ApplicationError as error:
            form.add_error("file", error.message)
        else:
            for warning in content.warnings:
                messages.warning(request, warning)
            messages.info(request, _("Read as %(encoding)s.") % {"encoding": content.encoding})
            return redirect("office:batch", batch_id=batch.pk)
    return render(request, "office/upload.html", {"source": source, "form": form})


@office_role_required(*READERS)
def batch_detail(request, batch_id):
    batch = get_object_or_404(IngestBatch.objects.select_related("source", "uploaded_by"), pk=batch_id)
    records = batch.records.order_by("line")
    malformed = records.filter(result="malformed")
    context = {"batch": batch, "malformed": malformed[:200], "malformed_count": malformed.count()}
    if batch.status == IngestBatch.Status.PREVIEW:
        context["outcomes"] = _labelled(batch_dry_run(batch=batch))
    else:
        context["outcomes"] = _labelled(batch.counts)
        context["page"] = Paginator(records, 100).get_page(request.GET.get("page"))
    return render(request, "office/batch.html", context)


def _labelled(counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(IngestRecord.Result(code).label, n) for code, n in sorted(counts.items(), key=lambda item: -item[1])]


@require_POST
@office_role_required(*MANAGERS)
def batch_confirm_view(request, batch_id):
    batch = get_object_or_404(IngestBatch, pk=batch_id)
    batch_confirm(acting_user=request.user, batch=batch)
    messages.success(request, _("The batch is queued; results appear here when it is processed."))
    return redirect("office:batch", batch_id=batch.pk)


@office_role_required(*READERS)
def batch_results_csv(request, batch_id):
    batch = get_object_or_404(IngestBatch, pk=batch_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-results.csv"'
    response.write("\ufeff")  # spreadsheets then read it as UTF-8
    writer = csv.writer(response)
    writer.writerow(["line", "external_id", "behaviour_code", "result", "points", "detail"])
    rows = batch.records.order_by("line").values_list(
        "line", "external_id", "behaviour_code", "result", "points", "detail"
    )
    for line, external_id, code, result, points, detail in rows.iterator(chunk_size=2000):
        writer.writerow(
            [
                line + (1 if batch.channel == IngestBatch.Channel.CSV else 0),
                external_id,
                code,
                result,
                points if points is not None else "",
                detail,
            ]
        )
    return response
