"""Piccolo table of the dead-letter list, so platform admins see it in Piccolo admin."""

from piccolo.columns import JSONB, UUID, BigSerial, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class DeadLetter(Table, tablename="dead_letters"):
    id = BigSerial(primary_key=True)
    job_id = UUID()
    schema_name = Varchar(length=63)
    actor = Text()
    args = JSONB()
    error = Text()
    attempts = Integer()
    failed_at = Timestamptz()
    retried_at = Timestamptz(null=True, default=None)
