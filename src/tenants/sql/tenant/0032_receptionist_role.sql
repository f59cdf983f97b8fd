-- Front-desk staff (issue 11/15): receptionists act on every appointment, but change no settings.
ALTER TABLE staff_users DROP CONSTRAINT IF EXISTS staff_users_role_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_role_check
    CHECK (role IN ('admin', 'receptionist', 'specialist'));
