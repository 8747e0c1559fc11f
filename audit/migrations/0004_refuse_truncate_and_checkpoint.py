"""TRUNCATE fires no row trigger, so the append-only trigger of 0002 let it empty the log.
A statement trigger refuses it. The daily verification's record becomes the checkpoint
(the chain's head then: seq and hash) that a later verification compares with, so a log
that lost its tail still fails verification; that table is append-only too."""

from django.db import migrations, models

CREATE = """
CREATE TRIGGER audit_auditentry_no_truncate
BEFORE TRUNCATE ON audit_auditentry
FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only();

CREATE TRIGGER audit_auditverification_append_only
BEFORE UPDATE OR DELETE ON audit_auditverification
FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only();

CREATE TRIGGER audit_auditverification_no_truncate
BEFORE TRUNCATE ON audit_auditverification
FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_auditentry_no_truncate ON audit_auditentry;
DROP TRIGGER IF EXISTS audit_auditverification_append_only ON audit_auditverification;
DROP TRIGGER IF EXISTS audit_auditverification_no_truncate ON audit_auditverification;
"""

# The message names the table the trigger fired on, whichever of the two it is.
MESSAGE = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""

OLD_MESSAGE = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_audit_verification")]

    operations = [
        migrations.AddField(
            model_name="auditverification",
            name="head_seq",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditverification",
            name="head_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunSQL(MESSAGE, OLD_MESSAGE),
        migrations.RunSQL(CREATE, DROP),
    ]
