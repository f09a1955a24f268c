//! The audit log every openjpki service keeps: append-only, each entry
//! hash-chained to the previous (hash = SHA-256(prev ‖ seq ‖ at ‖ event ‖
//! detail)), written in the same transaction as the change it records.
//!
//! A hash chain alone proves nothing to someone who can write the
//! database: the tail can be cut, or the whole chain recomputed. So the
//! service signs **checkpoints** of the head with a key of its own
//! ([`AuditKey`], Ed25519, kept outside the database) every few seconds:
//! each is stored beside the log and the latest is also written to a file
//! outside the database (the anchor), which operators may copy off-site.
//! [`verify_with`] checks the chain, every stored checkpoint's signature
//! and hash, and the anchor: a cut tail, a rewritten chain or a forged
//! checkpoint fails. What it cannot see is a cut of entries newer than the
//! last checkpoint.
//!
//! Each service adds the two tables of [`TABLES`] to its schema
//! and decides what goes into an entry's detail (who acted, and on what).
#![forbid(unsafe_code)]

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use pki::HashAlg;
use serde::{Deserialize, Serialize};
use std::path::Path;
use store::{params, StoreError, Tx};

/// The log's two tables, as one migration for a service's schema (the JPKI
/// service, older than this crate, made them in two).
pub const TABLES: &str = "CREATE TABLE audit (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE audit_checkpoints (seq BIGINT PRIMARY KEY, hash TEXT NOT NULL, at BIGINT NOT NULL, signature TEXT NOT NULL)";

/// Why a checkpoint was not signed.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log or the anchor is not what the service last signed, or the
    /// anchor could not be written.
    #[error("{0}")]
    Refused(String),
}

/// An entry's hash: SHA-256(prev ‖ seq ‖ at ‖ event ‖ detail), lines
/// joined by `\n`, hex. Public, as anyone who can write the database knows
/// it too: that is why the checkpoints are signed.
pub fn entry_hash(prev: &str, seq: i64, at: i64, event: &str, detail: &str) -> String {
    let input = format!("{prev}\n{seq}\n{at}\n{event}\n{detail}");
    hex::encode(HashAlg::Sha256.digest(input.as_bytes()))
}

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Makes this transaction the only one changing certificates and the log
/// until it ends. SQLite has one writer anyway; on PostgreSQL two writers
/// would read the same chain head and take the same sequence number, so
/// each takes a transaction-scoped advisory lock first (re-entrant; let go
/// at commit or rollback). Status changes take it before the CA's CRL row,
/// so the two locks are always taken in the same order.
pub fn serialize_changes(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    /// The lock's number: "JPKI" in ASCII (one lock number for every service: each has its own database).
    const AUDIT_LOCK: i64 = 0x4A50_4B49;
    if tx.engine() == store::Engine::Postgres {
        tx.execute("SELECT pg_advisory_xact_lock($1)", params![AUDIT_LOCK])?;
    }
    Ok(())
}

/// Appends an entry inside `tx`; `by` (who acted, as the service records
/// it) goes into the detail.
pub fn append(
    tx: &mut Tx<'_>,
    at: i64,
    event: &str,
    detail: &serde_json::Value,
    by: &serde_json::Value,
) -> Result<(), StoreError> {
    serialize_changes(tx)?;
    let (seq, prev) = match tx.optional("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])? {
        Some(row) => (row.int("seq")? + 1, row.text("hash")?),
        None => (1, GENESIS.to_string()),
    };
    let mut detail = detail.clone();
    if let Some(object) = detail.as_object_mut() {
        object.insert("by".into(), by.clone());
    }
    let detail = detail.to_string();
    let hash = entry_hash(&prev, seq, at, event, &detail);
    tx.execute(
        "INSERT INTO audit (seq, at, event, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
        params![seq, at, event, detail, prev, hash],
    )?;
    Ok(())
}

/// Why the log is not what the service wrote.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    /// An entry's content does not hash to its recorded hash (edited).
    #[error("audit entry {0} was altered")]
    Altered(i64),
    /// An entry does not follow the previous one (deleted or inserted).
    #[error("audit chain broken before entry {0} (an entry was deleted or inserted)")]
    Broken(i64),
    /// A checkpoint's signature is not the service's audit key's.
    #[error("the audit checkpoint at entry {0} is not signed by the service's audit key (forged)")]
    ForgedCheckpoint(i64),
    /// The chain at a signed checkpoint is not the one signed.
    #[error("the audit log was rewritten: entry {0} is not the one the service signed")]
    Rewritten(i64),
    /// A signed checkpoint names entries the log no longer has.
    #[error("the audit log was cut: the service signed entry {checkpoint}, the log ends at {head}")]
    Truncated {
        /// The checkpoint's entry.
        checkpoint: i64,
        /// The log's last entry (0: empty).
        head: i64,
    },
}

/// Checks the hash chain alone; returns the number of entries. See
/// [`verify_with`] for the check that also catches a cut or rewritten log.
pub async fn verify(store: &store::Store) -> Result<Result<usize, AuditError>, StoreError> {
    Ok(chain(store).await?.map(|hashes| hashes.len()))
}

/// The entries' hashes in order (index = seq − 1), or how the chain breaks.
async fn chain(store: &store::Store) -> Result<Result<Vec<String>, AuditError>, StoreError> {
    let rows =
        store.read(|tx| tx.all("SELECT seq, at, event, detail, prev_hash, hash FROM audit ORDER BY seq", &[])).await?;
    let mut prev = GENESIS.to_string();
    let mut hashes = Vec::with_capacity(rows.len());
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
        prev = hash.clone();
        hashes.push(hash);
    }
    Ok(Ok(hashes))
}

/// A signed statement of the log's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The last entry covered.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// When it was signed (Unix seconds).
    pub at: i64,
    /// Ed25519 signature (hex) over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The signed bytes.
    pub fn message(seq: i64, hash: &str, at: i64) -> Vec<u8> {
        format!("openjpki audit checkpoint v1\n{seq}\n{hash}\n{at}").into_bytes()
    }

    /// Whether `public_key` (raw Ed25519) signed it.
    pub fn verifies(&self, public_key: &[u8]) -> bool {
        let Ok(signature) = hex::decode(&self.signature) else { return false };
        UnparsedPublicKey::new(&ED25519, public_key)
            .verify(&Self::message(self.seq, &self.hash, self.at), &signature)
            .is_ok()
    }

    /// Reads an anchor file written by the service.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&text).map_err(|e| format!("{}: not an audit checkpoint: {e}", path.display()))
    }
}

/// The service's audit signing key (Ed25519, PKCS#8 file, mode 0600), with
/// its public key beside it in `<file>.pub` (hex) for verifiers.
pub struct AuditKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("public_key", &hex::encode(self.public_key())).finish_non_exhaustive()
    }
}

impl AuditKey {
    /// Loads the key, or makes one (and its `.pub`) if the file is absent.
    pub fn load_or_create(path: &Path) -> Result<Self, String> {
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => zeroize::Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).map_err(|e| err(&e))?;
                let bytes = zeroize::Zeroizing::new(doc.as_ref().to_vec());
                pki::fs::write_atomically(path, &bytes).map_err(|e| err(&e))?;
                bytes
            }
            Err(e) => return Err(err(&e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| err(&e))?;
        let key = Self { pair };
        let public = public_key_file(path);
        if !public.exists() {
            pki::fs::write_atomically(&public, hex::encode(key.public_key()).as_bytes()).map_err(|e| err(&e))?;
        }
        Ok(key)
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    fn sign(&self, seq: i64, hash: &str, at: i64) -> Checkpoint {
        let signature = hex::encode(self.pair.sign(&Checkpoint::message(seq, hash, at)).as_ref());
        Checkpoint { seq, hash: hash.to_string(), at, signature }
    }
}

/// Where an audit key's public key is written: `<key file>.pub`.
pub fn public_key_file(key_file: &Path) -> std::path::PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".pub");
    name.into()
}

/// Reads a public key file (hex).
pub fn read_public_key(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    hex::decode(text.trim()).map_err(|_| format!("{}: not an Ed25519 public key in hex", path.display()))
}

/// Signs the log's head if it moved since the last checkpoint: stores the
/// checkpoint and writes it to `anchor` (outside the database). Returns the
/// new checkpoint, if any. Refuses — and leaves the anchor as it is — when
/// the log no longer holds the entry the anchor signed: a cut or rewritten
/// log is never signed over.
pub async fn checkpoint(
    store: &store::Store,
    key: &AuditKey,
    anchor: &Path,
) -> Result<Option<Checkpoint>, CheckpointError> {
    let previous = match std::fs::read(anchor) {
        Ok(_) => Some(Checkpoint::read(anchor).map_err(CheckpointError::Refused)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CheckpointError::Refused(format!("{}: {e}", anchor.display()))),
    };
    let anchored_seq = previous.as_ref().map_or(0, |p| p.seq);
    let (head, last, anchored) = store
        .read(move |tx| {
            let head = tx.optional("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[])?;
            let last = tx.optional("SELECT seq FROM audit_checkpoints ORDER BY seq DESC LIMIT 1", &[])?;
            let anchored = tx.optional("SELECT hash FROM audit WHERE seq = $1", params![anchored_seq])?;
            Ok::<_, store::StoreError>((head, last, anchored))
        })
        .await?;
    if let Some(previous) = &previous {
        if anchored.map(|r| r.text("hash")).transpose()?.as_deref() != Some(previous.hash.as_str()) {
            return Err(CheckpointError::Refused(format!(
                "the audit log no longer holds entry {} as checkpointed in {}: it was cut or rewritten; not signing (run jpki audit verify)",
                previous.seq,
                anchor.display()
            )));
        }
    }
    let Some(head) = head else { return Ok(None) };
    let (seq, hash) = (head.int("seq")?, head.text("hash")?);
    if last.map(|r| r.int("seq")).transpose()? == Some(seq) && anchor.exists() {
        return Ok(None);
    }
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let cp = key.sign(seq, &hash, at);
    let row = cp.clone();
    store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (seq) DO NOTHING",
                params![row.seq, row.hash, row.at, row.signature],
            )
        })
        .await?;
    let text = serde_json::to_vec_pretty(&cp).map_err(|e| CheckpointError::Refused(e.to_string()))?;
    pki::fs::write_atomically(anchor, &text)
        .map_err(|e| CheckpointError::Refused(format!("{}: {e}", anchor.display())))?;
    Ok(Some(cp))
}

/// What [`verify_with`] found intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Entries in the chain.
    pub entries: usize,
    /// Signed checkpoints stored beside it, all checked.
    pub checkpoints: usize,
    /// The anchor's entry, when one was given.
    pub anchored_at: Option<i64>,
}

fn check(cp: &Checkpoint, public_key: &[u8], hashes: &[String]) -> Result<(), AuditError> {
    if !cp.verifies(public_key) {
        return Err(AuditError::ForgedCheckpoint(cp.seq));
    }
    let head = hashes.len() as i64;
    if cp.seq > head {
        return Err(AuditError::Truncated { checkpoint: cp.seq, head });
    }
    match usize::try_from(cp.seq - 1).ok().and_then(|i| hashes.get(i)) {
        Some(h) if *h == cp.hash => Ok(()),
        _ => Err(AuditError::Rewritten(cp.seq)),
    }
}

/// Checks the chain, every stored checkpoint against `public_key` (raw
/// Ed25519) and the chain, and the anchor (the latest checkpoint, kept
/// outside the database) when given.
pub async fn verify_with(
    store: &store::Store,
    public_key: &[u8],
    anchor: Option<&Checkpoint>,
) -> Result<Result<Verified, AuditError>, StoreError> {
    let hashes = match chain(store).await? {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let rows =
        store.read(|tx| tx.all("SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq", &[])).await?;
    for row in &rows {
        let cp = Checkpoint {
            seq: row.int("seq")?,
            hash: row.text("hash")?,
            at: row.int("at")?,
            signature: row.text("signature")?,
        };
        if let Err(e) = check(&cp, public_key, &hashes) {
            return Ok(Err(e));
        }
    }
    if let Some(cp) = anchor {
        if let Err(e) = check(cp, public_key, &hashes) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(Verified { entries: hashes.len(), checkpoints: rows.len(), anchored_at: anchor.map(|c| c.seq) }))
}

/// Signs the log's head every `interval` when it moved, and once more when
/// `stop` begins (the service calls it after its last request was answered).
pub async fn checkpoint_every(
    store: store::Store,
    key: AuditKey,
    anchor: std::path::PathBuf,
    interval: std::time::Duration,
    stop: svc::server::Shutdown,
) {
    loop {
        match checkpoint(&store, &key, &anchor).await {
            Ok(Some(cp)) => tracing::debug!(seq = cp.seq, "audit checkpoint signed"),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "audit checkpoint"),
        }
        if stop.begun() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.requested() => {}
        }
    }
}
