-- Specialists, their availability, clinic closures, services and booking calendars.
CREATE TABLE specialists (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    staff_user uuid UNIQUE REFERENCES staff_users (id) ON DELETE SET NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email text NOT NULL CHECK (position('@' in email) > 1),
    timezone text NOT NULL,
    buffer_minutes integer NOT NULL DEFAULT 0 CHECK (buffer_minutes BETWEEN 0 AND 240),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Weekly schedule: local wall-clock intervals per ISO weekday ('24:00' allowed as an end).
CREATE TABLE weekly_intervals (
    specialist_id uuid NOT NULL REFERENCES specialists (id) ON DELETE CASCADE,
    isodow smallint NOT NULL CHECK (isodow BETWEEN 1 AND 7),
    starts time NOT NULL,
    ends time NOT NULL,
    CHECK (starts < ends),
    PRIMARY KEY (specialist_id, isodow, starts)
);

-- Date overrides: a local date range that is either unavailable or has custom hours.
CREATE TABLE date_overrides (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    specialist_id uuid NOT NULL REFERENCES specialists (id) ON DELETE CASCADE,
    dates daterange NOT NULL CHECK (NOT isempty(dates)),
    kind varchar(16) NOT NULL CHECK (kind IN ('unavailable', 'custom_hours')),
    reason varchar(16) CHECK (reason IN ('holiday', 'sick', 'other')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'unavailable') = (reason IS NOT NULL)),
    -- One override per specialist and date: the engine never has to choose.
    EXCLUDE USING gist (specialist_id WITH =, dates WITH &&)
);

CREATE TABLE override_intervals (
    override_id uuid NOT NULL REFERENCES date_overrides (id) ON DELETE CASCADE,
    starts time NOT NULL,
    ends time NOT NULL,
    CHECK (starts < ends),
    PRIMARY KEY (override_id, starts)
);

-- Clinic closures: local dates (clinic timezone) on which nobody is bookable.
CREATE TABLE closures (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dates daterange NOT NULL CHECK (NOT isempty(dates)),
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX closures_dates_idx ON closures USING gist (dates);

CREATE TABLE services (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '',
    default_duration_minutes integer NOT NULL CHECK (default_duration_minutes BETWEEN 5 AND 480),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE calendars (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug varchar(64) NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    kind varchar(16) NOT NULL DEFAULT 'standard'
        CHECK (kind IN ('standard', 'promotional', 'campaign')),
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 480),
    slot_interval_minutes integer CHECK (slot_interval_minutes BETWEEN 5 AND 480),
    min_notice_minutes integer NOT NULL DEFAULT 120 CHECK (min_notice_minutes >= 0),
    horizon_days integer NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 1 AND 730),
    active_from timestamptz,
    active_until timestamptz,
    listed boolean NOT NULL DEFAULT true,
    active boolean NOT NULL DEFAULT true,
    video boolean NOT NULL DEFAULT false,
    required_form_ids uuid[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (active_from IS NULL OR active_until IS NULL OR active_from < active_until)
);

-- Special hours: weekly intervals in the clinic timezone that further restrict a calendar.
CREATE TABLE calendar_special_hours (
    calendar_id uuid NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    isodow smallint NOT NULL CHECK (isodow BETWEEN 1 AND 7),
    starts time NOT NULL,
    ends time NOT NULL,
    CHECK (starts < ends),
    PRIMARY KEY (calendar_id, isodow, starts)
);

CREATE TABLE calendar_specialists (
    calendar_id uuid NOT NULL REFERENCES calendars (id) ON DELETE CASCADE,
    specialist_id uuid NOT NULL REFERENCES specialists (id) ON DELETE CASCADE,
    PRIMARY KEY (calendar_id, specialist_id)
);
CREATE INDEX calendar_specialists_specialist_idx ON calendar_specialists (specialist_id);
