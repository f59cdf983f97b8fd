-- The statistics of local days [$1, $2], one row per {key} ('00000000-…' for one total row).
-- Whole months [$7, $8) come from the monthly rollups, the days of partial months at either
-- end ([$1, $5] and [$6, $2]) from the daily ones. {filter} (the specialist $3 and/or the
-- calendar $4) is fixed text spliced in by the service, so each variant is planned with its
-- index.
WITH counts AS (
    SELECT x.key, sum(x.booked)::bigint AS booked, sum(x.completed)::bigint AS completed,
           sum(x.cancelled)::bigint AS cancelled, sum(x.no_show)::bigint AS no_show,
           sum(x.booked_minutes)::bigint AS booked_minutes,
           sum(x.rating_sum)::bigint AS rating_sum, sum(x.rating_count)::bigint AS rating_count
    FROM (
        SELECT {key} AS key, d.booked, d.completed, d.cancelled, d.no_show, d.booked_minutes,
               d.rating_sum, d.rating_count
        FROM stats_daily d
        WHERE (d.day BETWEEN $1 AND $5 OR d.day BETWEEN $6 AND $2) {filter}
        UNION ALL
        SELECT {key}, d.booked, d.completed, d.cancelled, d.no_show, d.booked_minutes,
               d.rating_sum, d.rating_count
        FROM stats_monthly d
        WHERE d.month >= $7 AND d.month < $8 {filter}
    ) x
    GROUP BY 1
), offered AS (
    SELECT x.key, sum(x.minutes)::bigint AS offered_minutes
    FROM (
        SELECT {key} AS key, d.minutes FROM stats_offered d
        WHERE (d.day BETWEEN $1 AND $5 OR d.day BETWEEN $6 AND $2) {filter}
        UNION ALL
        SELECT {key}, d.minutes FROM stats_offered_monthly d
        WHERE d.month >= $7 AND d.month < $8 {filter}
    ) x
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
