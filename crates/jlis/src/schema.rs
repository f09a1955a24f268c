//! The JPKI service's schema (SQL accepted by SQLite and PostgreSQL).

use store::Migration;

/// Migrations in order.
pub const MIGRATIONS: &[Migration] = &[
    (
    "0001-initial",
    "CREATE TABLE certificates (
        serial TEXT PRIMARY KEY,
        ca TEXT NOT NULL,
        holder TEXT NOT NULL,
        kind TEXT NOT NULL,
        der BYTEA NOT NULL,
        not_after BIGINT NOT NULL,
        issued_at BIGINT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        revoked_at BIGINT,
        changed_at BIGINT NOT NULL
    );
    CREATE INDEX certificates_ca_status ON certificates (ca, status);
    CREATE TABLE links (
        phone_serial TEXT PRIMARY KEY REFERENCES certificates (serial),
        card_serial TEXT NOT NULL REFERENCES certificates (serial),
        se_id TEXT NOT NULL,
        cert_type TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX links_card ON links (card_serial);
    CREATE TABLE requests (id TEXT PRIMARY KEY, at BIGINT NOT NULL);
    CREATE TABLE crl_state (ca TEXT PRIMARY KEY, number BIGINT NOT NULL, base_number BIGINT NOT NULL, base_at BIGINT NOT NULL);
    CREATE TABLE audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    ),
    // The holder's application (SHA-256 of its signed content) behind each
    // phone certificate: at most one unrevoked certificate per application
    // and type.
    (
        "0002-link-applications",
        "ALTER TABLE links ADD COLUMN application TEXT;
        CREATE INDEX links_application ON links (application, cert_type)",
    ),
    (
        "0003-audit-checkpoints",
        "CREATE TABLE audit_checkpoints (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at BIGINT NOT NULL, signature TEXT NOT NULL)",
    ),
    // Delta CRLs list exactly the changes since their base (RFC 5280
    // §5.2.4): each status change takes the next number of its CA's change
    // counter (on the CA's crl_state row, whose lock orders changes and CRLs
    // on PostgreSQL too); a full CRL records the counter it saw and the
    // certificates it listed on hold (removeFromCRL is for these alone once
    // released). Rows from before: base_seq -1 relists them in the next
    // delta rather than miss one.
    (
        "0004-crl-changes",
        "CREATE TABLE crl_base_holds (ca TEXT NOT NULL, serial TEXT NOT NULL, PRIMARY KEY (ca, serial));
        ALTER TABLE certificates ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE crl_state ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;
        ALTER TABLE crl_state ADD COLUMN base_seq BIGINT NOT NULL DEFAULT -1;
        INSERT INTO crl_state (ca, number, base_number, base_at) VALUES ('auth', 0, 0, 0) ON CONFLICT DO NOTHING;
        INSERT INTO crl_state (ca, number, base_number, base_at) VALUES ('sign', 0, 0, 0) ON CONFLICT DO NOTHING",
    ),
    // A phone-certificate request's fingerprint and outcome beside its id:
    // the same request sent again with the same id (its answer was lost)
    // gets the same certificate back; another request under a used id is
    // a replay.
    (
        "0005-idempotent-requests",
        "ALTER TABLE requests ADD COLUMN fingerprint TEXT;
        ALTER TABLE requests ADD COLUMN outcome TEXT",
    ),
    // Which SP-TSM (SHA-256 of its client certificate) asked for each
    // phone certificate: it alone may revoke it (NULL: issued in process,
    // or before this migration — an operator revokes those).
    ("0006-link-sp-tsm", "ALTER TABLE links ADD COLUMN sp_tsm TEXT"),
    // Dual control (issue 15): the first operator's approval of a card
    // certificate's revocation for key compromise, waiting for a second.
    (
        "0007-revocation-approvals",
        "CREATE TABLE revocation_approvals (
            serial TEXT PRIMARY KEY,
            operator TEXT NOT NULL,
            request_id TEXT NOT NULL,
            approved_at BIGINT NOT NULL
        )",
    ),
];
