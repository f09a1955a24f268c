//! The audit log: append-only, each entry hash-chained to the previous
//! (hash = SHA-256(prev ‖ seq ‖ at ‖ event ‖ detail)), written in the same
//! transaction as the change it records. Editing or deleting an entry breaks
//! the chain, which [`verify`] finds.

use crate::JlisError;
use pki::HashAlg;
use store::sqlx::{Any, Transaction};

fn entry_hash(prev: &str, seq: i64, at: i64, event: &str, detail: &str) -> String {
    let input = format!("{prev}\n{seq}\n{at}\n{event}\n{detail}");
    hex::encode(HashAlg::Sha256.digest(input.as_bytes()))
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends an entry inside `tx`.
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    at: i64,
    event: &str,
    detail: &serde_json::Value,
) -> Result<(), JlisError> {
    let last =
        store::sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetch_optional(&mut **tx).await?;
    let (seq, prev) = match last {
        Some(row) => (store::int(&row, "seq")? + 1, store::text(&row, "hash")?),
        None => (1, GENESIS.to_string()),
    };
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, at, event, &detail);
    store::sqlx::query("INSERT INTO audit (seq, at, event, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(seq)
        .bind(at)
        .bind(event)
        .bind(detail)
        .bind(prev)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Why the chain is broken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// An entry's content does not hash to its recorded hash (edited).
    #[error("audit entry {0} was altered")]
    Altered(i64),
    /// An entry does not follow the previous one (deleted or inserted).
    #[error("audit chain broken before entry {0} (an entry was deleted or inserted)")]
    Broken(i64),
}

/// Checks the whole chain; returns the number of entries.
pub async fn verify(store: &store::Store) -> Result<Result<usize, AuditError>, JlisError> {
    let rows = store::sqlx::query("SELECT seq, at, event, detail, prev_hash, hash FROM audit ORDER BY seq")
        .fetch_all(store.pool())
        .await?;
    let mut prev = GENESIS.to_string();
    for (expected_seq, row) in (1i64..).zip(rows.iter()) {
        let seq = store::int(row, "seq")?;
        let prev_hash = store::text(row, "prev_hash")?;
        if seq != expected_seq || prev_hash != prev {
            return Ok(Err(AuditError::Broken(seq)));
        }
        let hash = store::text(row, "hash")?;
        let recomputed = entry_hash(
            &prev_hash,
            seq,
            store::int(row, "at")?,
            &store::text(row, "event")?,
            &store::text(row, "detail")?,
        );
        if recomputed != hash {
            return Ok(Err(AuditError::Altered(seq)));
        }
        prev = hash;
    }
    Ok(Ok(rows.len()))
}
