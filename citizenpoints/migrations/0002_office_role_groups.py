from django.db import migrations

OFFICE_ROLES = ["catalogue_editor", "reviewer", "partner_manager", "data_source_manager", "auditor"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in OFFICE_ROLES:
        Group.objects.get_or_create(name=name)


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=OFFICE_ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("citizenpoints", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_groups, delete_groups)]
