from django.db import migrations

# UPDATE is never allowed. DELETE only inside a transaction that said `SET LOCAL citizenpoints.ledger_purge = 'on'`:
# the retention purge is the one sanctioned path. PostgreSQL only; other databases rely on the service layer.
FORWARD = """
CREATE OR REPLACE FUNCTION citizenpoints_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('citizenpoints.ledger_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON citizenpoints_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION citizenpoints_ledger_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS ledger_append_only ON citizenpoints_ledgerentry;
DROP FUNCTION IF EXISTS citizenpoints_ledger_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("citizenpoints", "0003_points_core")]
    operations = [migrations.RunPython(forward, backward)]
