-- The clinic's logo (one row at most), shown on its public pages (issue 15).
CREATE TABLE clinic_branding (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    logo bytea NOT NULL,
    logo_type varchar(32) NOT NULL CHECK (logo_type IN ('image/png', 'image/jpeg', 'image/webp')),
    updated_at timestamptz NOT NULL DEFAULT now()
);
