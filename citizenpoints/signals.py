"""Signals other apps receive to keep residents' rights whole without the points domain importing them.

Both are sent inside the calling service's transaction: a receiver's writes commit or roll back with it.
"""

from django.dispatch import Signal

# Sent by services.leaving.resident_leave after the resident row is detached, before the account is deleted.
# kwargs: resident (the anonymous Resident, `left_at` set), user (the account about to be deleted).
# A receiver deletes or anonymises every row of its own that names the resident.
resident_left = Signal()

# Sent by services.retention.retention_purge. kwargs: cutoff (aware datetime). A receiver deletes or anonymises its
# rows about residents recorded before `cutoff`, and returns {label: rows affected} for the purge's report.
retention_due = Signal()

# Sent by `manage.py load_demo` once the demo accounts, catalogue and histories exist, inside its transaction.
# kwargs: partner_manager (the demo partner manager). Other apps add their demo data.
demo_loaded = Signal()

# Sent by the signed-in home page for an account that has not joined the programme. kwargs: user. A receiver
# returns the URL of that account's own home (e.g. a partner's counter), or None.
home_requested = Signal()
