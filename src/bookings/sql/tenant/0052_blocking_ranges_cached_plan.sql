-- blocking_ranges() of 0020_appointments, same signature and rows, in PL/pgSQL (issue 18).
--
-- The engine calls it with a sub-select argument, which keeps it out of the engine's own
-- plan; as a LANGUAGE sql function it was therefore parsed and planned again on every call
-- (most of a point-mode engine call's time). PL/pgSQL keeps its plan for the session.
CREATE OR REPLACE FUNCTION blocking_ranges(p_specialists uuid[], p_window tstzrange,
                                           p_now timestamptz)
RETURNS TABLE (specialist_id uuid, blocking tstzrange)
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    RETURN QUERY
    SELECT a.specialist_id, a.blocking
    FROM appointments a
    WHERE a.specialist_id = ANY (p_specialists)
      AND a.blocking && p_window
      AND a.status IN ('held', 'booked', 'upcoming', 'confirmed', 'in_progress', 'done')
      AND (a.status <> 'held' OR a.hold_expires_at > p_now);
END
$fn$;
