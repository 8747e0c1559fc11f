# Writing a chat line's seq (sessions/chat_seqs.py) becomes a HOT update: seq leaves every
# index and index condition, and each page keeps 15% free for the new row versions.
# The fillfactor applies to pages written from now on; older pages are full anyway.

import django.contrib.postgres.indexes
from django.db import migrations

TABLE = "therapy_sessions_chatmessage"


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0004_chat_session_index_covered"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="chatmessage",
            name="therapy_ses_session_59ee49_idx",
        ),
        migrations.RemoveIndex(
            model_name="chatmessage",
            name="chat_without_seq",
        ),
        migrations.AddIndex(
            model_name="chatmessage",
            index=django.contrib.postgres.indexes.BrinIndex(fields=["sent_at"], name="chat_sent_at_brin"),
        ),
        migrations.RunSQL(
            sql=f'ALTER TABLE "{TABLE}" SET (fillfactor = 85)',
            reverse_sql=f'ALTER TABLE "{TABLE}" RESET (fillfactor)',
        ),
    ]
