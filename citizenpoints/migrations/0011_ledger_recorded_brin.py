from django.db import migrations

# The nightly points digest reads one day of awards by `recorded_at`. Entries are appended in recording order, so a
# BRIN index (a few pages for the whole table, next to nothing per insert) narrows that read to the day's blocks
# instead of a scan of the whole ledger. PostgreSQL only; SQLite demos are small.
FORWARD = "CREATE INDEX IF NOT EXISTS ledger_recorded_brin ON citizenpoints_ledgerentry USING brin (recorded_at);"
BACKWARD = "DROP INDEX IF EXISTS ledger_recorded_brin;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("citizenpoints", "0010_claims_appeals_notifications")]
    operations = [migrations.RunPython(forward, backward)]
