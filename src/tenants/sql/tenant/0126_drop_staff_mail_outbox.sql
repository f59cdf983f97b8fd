-- Staff e-mails (invitations, resets) are delivered by the notifications domain now (its log,
-- SMTP channel and local outbox): the private staff outbox is no longer written or read.
DROP TABLE staff_mail_outbox;
