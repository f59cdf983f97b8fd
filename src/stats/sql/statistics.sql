-- The statistics of local days [$1, $2], optionally of one specialist ($3) and/or calendar
-- ($4), grouped by $5 ('specialist', 'calendar' or anything else for one total row).
WITH counts AS (
    SELECT CASE $5 WHEN 'specialist' THEN d.specialist_id
                   WHEN 'calendar' THEN d.calendar_id ELSE '00000000-0000-0000-0000-000000000000'::uuid END AS key,
           sum(d.booked)::bigint AS booked, sum(d.completed)::bigint AS completed,
           sum(d.cancelled)::bigint AS cancelled, sum(d.no_show)::bigint AS no_show,
           sum(d.booked_minutes)::bigint AS booked_minutes,
           sum(d.rating_sum)::bigint AS rating_sum, sum(d.rating_count)::bigint AS rating_count
    FROM stats_daily d
    WHERE d.day BETWEEN $1 AND $2
      AND ($3::uuid IS NULL OR d.specialist_id = $3)
      AND ($4::uuid IS NULL OR d.calendar_id = $4)
    GROUP BY 1
), offered AS (
    SELECT CASE $5 WHEN 'specialist' THEN o.specialist_id
                   WHEN 'calendar' THEN o.calendar_id ELSE '00000000-0000-0000-0000-000000000000'::uuid END AS key,
           sum(o.minutes)::bigint AS offered_minutes
    FROM stats_offered o
    WHERE o.day BETWEEN $1 AND $2
      AND ($3::uuid IS NULL OR o.specialist_id = $3)
      AND ($4::uuid IS NULL OR o.calendar_id = $4)
    GROUP BY 1
)
SELECT nullif(coalesce(c.key, o.key), '00000000-0000-0000-0000-000000000000'::uuid) AS key,
       coalesce(c.booked, 0) AS booked, coalesce(c.completed, 0) AS completed,
       coalesce(c.cancelled, 0) AS cancelled, coalesce(c.no_show, 0) AS no_show,
       coalesce(c.booked_minutes, 0) AS booked_minutes,
       coalesce(c.rating_sum, 0) AS rating_sum, coalesce(c.rating_count, 0) AS rating_count,
       coalesce(o.offered_minutes, 0) AS offered_minutes
FROM counts c
FULL JOIN offered o ON o.key = c.key
ORDER BY 1 NULLS FIRST
