# Drops ChatMessage's own index on session_id: the unique (session, user, client_id)
# constraint and the (session, seq) index both start with it. Only the index: a plain
# AlterField would also drop and re-add the foreign key, whose re-validation scans the
# whole chat table under lock.

import django.db.models.deletion
from django.db import migrations, models

INDEX = "therapy_sessions_chatmessage_session_id_f58bfaae"


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0003_chatmessage_chat_without_seq"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "therapy_sessions_chatmessage" ("session_id")',
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="chatmessage",
                    name="session",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="chat_messages",
                        to="therapy_sessions.session",
                    ),
                ),
            ],
        ),
    ]
