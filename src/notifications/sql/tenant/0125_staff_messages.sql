-- Messages to clinic staff go through the log too (issue 13/15): the low-rating alert to the
-- clinic admins and the staff password links (invitation, reset).
ALTER TABLE notification_log DROP CONSTRAINT notification_log_recipient_kind_check;
ALTER TABLE notification_log ADD CONSTRAINT notification_log_recipient_kind_check
    CHECK (recipient_kind IN ('patient', 'specialist', 'clinic', 'staff'));
