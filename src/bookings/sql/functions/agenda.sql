-- The staff agenda (0130_agenda_week): one copy in schema public for every clinic, run on the
-- caller's search_path (docs/architecture.md, "Shared functions").

-- The staff agenda's week view (issue 15): one row per (specialist, local day) cell with the
-- number of appointments, the count per status (in the lifecycle's order) and the first start
-- and last end as local "HH:MM". The week grid shows these summaries; the day view lists the
-- appointments. No patient data leaves this function.
CREATE OR REPLACE FUNCTION agenda_week_cells(
    p_specialists uuid[], p_from timestamptz, p_to timestamptz, p_zone text, p_first date
) RETURNS TABLE (
    specialist_id uuid, day_index integer, total integer, statuses text[], counts integer[],
    first_start text, last_end text
)
LANGUAGE sql STABLE AS $$
    WITH by_status AS (
        SELECT a.specialist_id, (a.starts_at AT TIME ZONE p_zone)::date - p_first AS day_index,
               a.status, count(*)::integer AS n, min(a.starts_at) AS first_start,
               max(a.ends_at) AS last_end
        FROM appointments a
        WHERE a.specialist_id = ANY (p_specialists)
          AND a.starts_at >= p_from AND a.starts_at < p_to
          AND a.status NOT IN ('released', 'expired')
          AND (a.status <> 'held' OR a.hold_expires_at > now())
        GROUP BY 1, 2, 3
    )
    SELECT b.specialist_id, b.day_index, sum(b.n)::integer,
           array_agg(b.status ORDER BY array_position(ARRAY['held', 'booked', 'upcoming',
               'confirmed', 'in_progress', 'done', 'no_show', 'cancelled']::text[], b.status::text)),
           array_agg(b.n ORDER BY array_position(ARRAY['held', 'booked', 'upcoming',
               'confirmed', 'in_progress', 'done', 'no_show', 'cancelled']::text[], b.status::text)),
           to_char(min(b.first_start) AT TIME ZONE p_zone, 'HH24:MI'),
           to_char(max(b.last_end) AT TIME ZONE p_zone, 'HH24:MI')
    FROM by_status b
    GROUP BY b.specialist_id, b.day_index
$$;
