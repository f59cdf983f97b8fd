-- Patients' preferences for messages (notifications/preferences.py): one copy in schema public
-- for every clinic, run on the caller's search_path (docs/architecture.md, "Shared functions").

-- Record the language a patient chose on the booking page, in the booking's own transaction
-- (book_hold_in() calls it), so the confirmation job finds it the moment the booking commits
-- and a booking that fails records nothing. NULL language: nothing to record (the clinic's
-- default_language applies).
CREATE OR REPLACE FUNCTION remember_patient_language(p_email text, p_language text)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
    IF p_language IS NULL OR p_email IS NULL OR length(p_email) > 254 THEN
        RETURN;
    END IF;
    INSERT INTO patient_preferences (email_key, language)
    VALUES (lower(btrim(p_email)), p_language)
    ON CONFLICT (email_key) DO UPDATE SET language = EXCLUDED.language, updated_at = now()
    WHERE patient_preferences.language IS DISTINCT FROM EXCLUDED.language;
END
$fn$;
