import django.db.models.deletion
from django.db import migrations, models

# The staging table's own index on batch_id repeated the first column of unique (batch, line), which serves every
# lookup by batch (and gives processing a batch's rows in line order). Only the index goes: Django's AlterField
# would also drop and re-add the foreign key, re-checking every staging row under lock.
INDEX = "citizenpoints_ingestrecord_batch_id_df2e6192"


class Migration(migrations.Migration):
    dependencies = [("citizenpoints", "0015_balance_hot_updates")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ingestrecord",
                    name="batch",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="records",
                        to="citizenpoints.ingestbatch",
                        verbose_name="batch",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX {INDEX}",  # fails loudly should the name ever differ
                    f"CREATE INDEX {INDEX} ON citizenpoints_ingestrecord (batch_id)",
                ),
            ],
        ),
    ]
