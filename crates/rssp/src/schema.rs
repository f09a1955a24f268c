//! The RSSP's schema (SQL accepted by SQLite and PostgreSQL). Rows the SAM
//! depends on carry a MAC under the crypto module's record key (`mac`):
//! see `records`.

use store::Migration;

/// Migrations in order.
pub const MIGRATIONS: &[Migration] = &[
    (
        "0001-initial",
        "CREATE TABLE signers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            card_certificate TEXT NOT NULL,
            card_certificate_sha256 TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            totp_sealed TEXT,
            phone_certificate TEXT,
            login_failures BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            mac TEXT NOT NULL
        );
        CREATE TABLE credentials (
            id TEXT PRIMARY KEY,
            signer_id TEXT NOT NULL REFERENCES signers (id),
            key_label TEXT NOT NULL UNIQUE,
            public_key TEXT NOT NULL,
            certificate TEXT NOT NULL,
            factor TEXT NOT NULL,
            multisign BIGINT NOT NULL,
            status TEXT NOT NULL,
            failures BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            mac TEXT NOT NULL
        );
        CREATE INDEX credentials_signer ON credentials (signer_id);
        CREATE TABLE tokens (
            id TEXT PRIMARY KEY,
            signer_id TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            revoked BIGINT NOT NULL
        );
        CREATE TABLE sads (
            id TEXT PRIMARY KEY,
            credential_id TEXT NOT NULL,
            signer_id TEXT NOT NULL,
            token_id TEXT NOT NULL,
            hash_alg TEXT,
            hashes TEXT,
            remaining BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            spent BIGINT NOT NULL
        );
        CREATE INDEX sads_credential ON sads (credential_id);
        CREATE TABLE nonces (
            id TEXT PRIMARY KEY,
            purpose TEXT NOT NULL,
            subject TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            used BIGINT NOT NULL
        )",
    ),
    ("0002-audit", audit_log::TABLES),
    // The confirm factor's registered key (JSON: chain and challenge).
    ("0003-confirmation-key", "ALTER TABLE signers ADD COLUMN confirmation_key TEXT"),
];
