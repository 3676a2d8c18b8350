"""The table of the database cache (CACHES "db", LOCATION leadloop_cache).

It holds the public forms' rate-limit counters, shared by every web process. Django makes
such tables with `createcachetable`; doing it here means `migrate` is the only set-up step.
The table is Django's own cache schema, so Django's command builds it (it skips a table that
exists already). Reversing drops it: it holds only short-lived counters.
"""

from django.db import migrations

TABLE = "leadloop_cache"


def create(apps, schema_editor):
    from django.core.management.commands.createcachetable import Command

    command = Command()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, TABLE, dry_run=False)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("capture", "0002_forms_imports_idempotency")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
