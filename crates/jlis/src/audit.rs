//! The audit log: append-only, each entry hash-chained to the previous
//! (hash = SHA-256(prev ‖ seq ‖ at ‖ event ‖ detail)), written in the same
//! transaction as the change it records. Editing or deleting an entry breaks
//! the chain, which [`verify`] finds.

use crate::JlisError;
use pki::HashAlg;
use store::{params, Tx};

fn entry_hash(prev: &str, seq: i64, at: i64, event: &str, detail: &str) -> String {
    let input = format!("{prev}\n{seq}\n{at}\n{event}\n{detail}");
    hex::encode(HashAlg::Sha256.digest(input.as_bytes()))
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends an entry inside `tx`.
pub fn append(tx: &mut Tx<'_>, at: i64, event: &str, detail: &serde_json::Value) -> Result<(), JlisError> {
    let (seq, prev) = match tx.optional("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])? {
        Some(row) => (row.int("seq")? + 1, row.text("hash")?),
        None => (1, GENESIS.to_string()),
    };
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, at, event, &detail);
    tx.execute(
        "INSERT INTO audit (seq, at, event, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
        params![seq, at, event, detail, prev, hash],
    )?;
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
    let rows =
        store.read(|tx| tx.all("SELECT seq, at, event, detail, prev_hash, hash FROM audit ORDER BY seq", &[])).await?;
    let mut prev = GENESIS.to_string();
    for (expected_seq, row) in (1i64..).zip(rows.iter()) {
        let seq = row.int("seq")?;
        let prev_hash = row.text("prev_hash")?;
        if seq != expected_seq || prev_hash != prev {
            return Ok(Err(AuditError::Broken(seq)));
        }
        let hash = row.text("hash")?;
        let recomputed = entry_hash(&prev_hash, seq, row.int("at")?, &row.text("event")?, &row.text("detail")?);
        if recomputed != hash {
            return Ok(Err(AuditError::Altered(seq)));
        }
        prev = hash;
    }
    Ok(Ok(rows.len()))
}
