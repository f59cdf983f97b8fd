-- Reviews (appointments spec §7): one rating per appointment, after 'done', by its patient;
-- a rating below the clinic's threshold raises an alert at once, open until acknowledged.

CREATE TABLE reviews (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Once per appointment: concurrent submissions meet here and one wins.
    appointment_id uuid NOT NULL UNIQUE REFERENCES appointments (id),
    patient_id uuid REFERENCES patients (id),
    specialist_id uuid NOT NULL REFERENCES specialists (id),
    calendar_id uuid NOT NULL REFERENCES calendars (id),
    rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment text CHECK (length(comment) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_specialist_idx ON reviews (specialist_id, created_at);

-- The patient was invited to review (reviews.invite on 'done'); the notifications domain
-- turns this into a message.
CREATE TABLE review_invitations (
    appointment_id uuid PRIMARY KEY REFERENCES appointments (id),
    invited_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE review_alerts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    review_id uuid NOT NULL UNIQUE REFERENCES reviews (id),  -- raised exactly once
    appointment_id uuid NOT NULL REFERENCES appointments (id),
    rating smallint NOT NULL,
    threshold smallint NOT NULL,
    raised_at timestamptz NOT NULL DEFAULT now(),
    notified_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by uuid REFERENCES staff_users (id),
    note text CHECK (length(note) <= 2000),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE INDEX review_alerts_open_idx ON review_alerts (raised_at) WHERE acknowledged_at IS NULL;

-- The whole use case in one transaction: the appointment must be done, the review is the
-- first, and a low rating writes its alert and the job that tells the clinic admins.
CREATE FUNCTION submit_review(p_appointment uuid, p_rating integer, p_comment text)
RETURNS TABLE (review_id uuid, alert_id uuid)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $fn$
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
