"""An INSERT that leaves the service column out gives NULL, not '': the trigger of 0007
gives such rows their kind's default too (NOT NULL is checked after BEFORE triggers), so
raw SQL written before the column existed keeps working."""

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION therapy_sessions_service_from_kind() RETURNS trigger AS $$
BEGIN
    IF NEW.service IS NULL OR NEW.service = '' THEN
        NEW.service := CASE NEW.kind
            WHEN 'group' THEN 'group_therapy'
            WHEN 'individual' THEN 'individual_therapy'
            WHEN 'family' THEN 'family_therapy'
            ELSE ''
        END;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""
PREVIOUS_FUNCTION_SQL = FUNCTION_SQL.replace("NEW.service IS NULL OR NEW.service = ''", "NEW.service = ''")


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0007_session_service")]

    operations = [migrations.RunSQL(FUNCTION_SQL, PREVIOUS_FUNCTION_SQL)]
