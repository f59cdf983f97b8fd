-- How many days ahead a calendar can be booked (bounds the page's "Later" button).
SELECT horizon_days FROM calendars WHERE id = $1
