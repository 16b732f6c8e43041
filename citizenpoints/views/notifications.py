"""The resident's inbox. Reading the list never writes: a notice is marked read when the resident opens it (a POST
that then takes them to what it is about) or marks them all read (a POST)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from citizenpoints.models import Notification
from citizenpoints.services.notifications import (
    notices_mark_read,
    notices_of,
    notices_unread_count,
    notices_word,
)
from citizenpoints.views.residents import resident_required

INBOX_PAGE_SIZE = 20


@resident_required
def inbox(request, resident):
    page = Paginator(notices_of(resident=resident), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "notices": notices_word(list(page.object_list)),
        "unread_count": notices_unread_count(user=request.user),
    }
    return render(request, "citizenpoints/inbox.html", context)


@require_POST
@resident_required
def inbox_open(request, resident, notice_id: int):
    notice = get_object_or_404(Notification, pk=notice_id, resident=resident)  # another resident's: 404
    notices_mark_read(resident=resident, notice_ids=[notice.pk])
    return redirect(notices_word([notice])[0].url)


@require_POST
@resident_required
def inbox_read_all(request, resident):
    if notices_mark_read(resident=resident):
        messages.success(request, _("All your notices are marked as read."))
    return redirect("inbox")
