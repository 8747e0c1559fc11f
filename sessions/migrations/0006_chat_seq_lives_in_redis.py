# A chat line's seq has one home, the room's stream in Redis (sessions/rooms/store.py):
# the column, the BRIN index that found rows still without one, and the free space kept
# on each page for writing it back (0005) all go. Chat rows are now written once.

from django.db import migrations

TABLE = "therapy_sessions_chatmessage"


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0005_chat_seq_update_is_hot"),
    ]

    operations = [
        migrations.AlterModelOptions(name="chatmessage", options={"ordering": ["id"]}),
        migrations.RemoveIndex(model_name="chatmessage", name="chat_sent_at_brin"),
        migrations.RemoveField(model_name="chatmessage", name="seq"),
        migrations.RunSQL(
            sql=f'ALTER TABLE "{TABLE}" RESET (fillfactor)',
            reverse_sql=f'ALTER TABLE "{TABLE}" SET (fillfactor = 85)',
        ),
    ]
