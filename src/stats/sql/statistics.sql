-- The statistics of local days [$1, $2] ({filter}: the specialist $3 and/or calendar $4, as
-- given), one row per {key} ('00000000-…' for one total row). The filter is spliced in by
-- the service (only fixed text), so each variant gets a plan that uses its index.
WITH counts AS (
    SELECT {key} AS key,
           sum(d.booked)::bigint AS booked, sum(d.completed)::bigint AS completed,
           sum(d.cancelled)::bigint AS cancelled, sum(d.no_show)::bigint AS no_show,
           sum(d.booked_minutes)::bigint AS booked_minutes,
           sum(d.rating_sum)::bigint AS rating_sum, sum(d.rating_count)::bigint AS rating_count
    FROM stats_daily d
    WHERE d.day BETWEEN $1 AND $2 {filter}
    GROUP BY 1
), offered AS (
    SELECT {key} AS key, sum(d.minutes)::bigint AS offered_minutes
    FROM stats_offered d
    WHERE d.day BETWEEN $1 AND $2 {filter}
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
