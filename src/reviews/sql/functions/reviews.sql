-- Reviews (0085_reviews): one copy in schema public for every clinic, run on the caller's
-- search_path (docs/architecture.md, "Shared functions").

-- The whole use case in one transaction: the appointment must be done, the review is the
-- first, and a low rating writes its alert and the job that tells the clinic admins.
CREATE OR REPLACE FUNCTION submit_review(p_appointment uuid, p_rating integer, p_comment text)
RETURNS TABLE (review_id uuid, alert_id uuid)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    a record;
    v_review uuid;
    v_alert uuid;
    v_threshold integer := clinic_setting_int('low_rating_threshold', 3);
BEGIN
    SELECT ap.id, ap.status, ap.patient_id, ap.specialist_id, ap.calendar_id INTO a
    FROM appointments ap WHERE ap.id = p_appointment;
    IF NOT FOUND OR a.status IN ('held', 'released', 'expired') THEN
        PERFORM lifecycle_outcome('appointment_not_found');
    END IF;
    IF a.status <> 'done' THEN
        PERFORM lifecycle_outcome('review_not_open', jsonb_build_object('status', a.status));
    END IF;
    INSERT INTO reviews (appointment_id, patient_id, specialist_id, calendar_id, rating, comment)
    VALUES (a.id, a.patient_id, a.specialist_id, a.calendar_id, p_rating,
            nullif(btrim(p_comment), ''))
    ON CONFLICT (appointment_id) DO NOTHING
    RETURNING id INTO v_review;
    IF v_review IS NULL THEN
        PERFORM lifecycle_outcome('already_reviewed');
    END IF;
    IF p_rating < v_threshold THEN
        INSERT INTO review_alerts (review_id, appointment_id, rating, threshold)
        VALUES (v_review, a.id, p_rating, v_threshold)
        RETURNING id INTO v_alert;
        PERFORM enqueue_job('reviews.alert_admins', jsonb_build_object(
            'alert_id', v_alert, 'review_id', v_review, 'appointment_id', a.id));
    END IF;
    RETURN QUERY SELECT v_review, v_alert;
END
$fn$;
