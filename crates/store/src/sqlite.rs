//! SQLite: one writer thread with group commit, and reader connections.
//!
//! Every write transaction is a closure sent to the writer thread, which
//! owns the only writing connection. The closure runs there from start to
//! end with direct calls into SQLite — no hand-off per statement. Closures
//! that arrive while a commit is being synced to disk are run together in
//! the next transaction, each inside a SAVEPOINT of its own (a closure that
//! fails is rolled back to its savepoint alone), and are answered after the
//! one COMMIT that makes all of them durable (group commit): a caller is
//! never told "done" before its change is on disk. (`JPKI_LOG=store=trace`
//! logs each commit's group size and time.)

use crate::value::{Row, Value};
use crate::StoreError;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

/// At most this many closures share one commit.
const GROUP_LIMIT: usize = 64;

/// What a closure leaves after it ran: whether it succeeded, and how to
/// answer its caller once the commit's outcome is known.
pub(crate) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write closure, boxed for the writer thread.
pub(crate) type Job = Box<dyn FnOnce(&Connection) -> (bool, Finish) + Send>;

/// Opens a connection with the settings every connection gets: WAL, a full
/// fsync on commit (durable before acknowledged), foreign keys, and a wait
/// rather than an error when another process holds the lock.
pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 16 MiB of page cache (the default is 2 MiB): the B-tree pages a
    // service touches stay in memory instead of being read back.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Makes the database file readable and writable by its owner alone
/// (0600), creating it empty if needed, before SQLite opens it: SQLite
/// gives its `-wal` and `-shm` files the database file's mode. The stores
/// hold holders' names, My Number digests and the audit log.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |path: &Path, e: std::io::Error| StoreError::Closed(format!("{}: {e}", path.display()));
    let opened = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path);
    opened.map_err(|e| failed(path, e))?;
    for side in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(side);
        let name = PathBuf::from(name);
        if name.exists() {
            std::fs::set_permissions(&name, std::fs::Permissions::from_mode(0o600)).map_err(|e| failed(&name, e))?;
        }
    }
    Ok(())
}

/// The writer thread's mailbox and a pool of reader connections.
#[derive(Debug)]
pub(crate) struct Sqlite {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
}

impl Sqlite {
    pub(crate) fn open(path: &Path) -> Result<Arc<Self>, StoreError> {
        owner_only(path)?;
        let conn = connect(path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| StoreError::Closed(e.to_string()))?;
        Ok(Arc::new(Self { path: path.to_path_buf(), writer: tx, readers: Mutex::new(Vec::new()) }))
    }

    pub(crate) fn send(&self, job: Job) -> Result<(), StoreError> {
        self.writer.send(job).map_err(|_| StoreError::Closed("the writer thread has stopped".into()))
    }

    /// Runs `f` on a reader connection, in one read transaction: every
    /// statement of `f` sees the same committed state.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> T) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut r| r.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = connect(&self.path)?;
                conn.pragma_update(None, "query_only", "ON")?;
                conn
            }
        };
        conn.execute_batch("BEGIN")?;
        let out = f(&conn);
        conn.execute_batch("COMMIT")?;
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < 8 {
                readers.push(conn);
            }
        }
        Ok(out)
    }
}

impl Sqlite {
    /// Folds the write-ahead log into the database file and empties it
    /// (`wal_checkpoint(TRUNCATE)`); readers still open may hold part of it
    /// back, which SQLite finishes at its next checkpoint.
    pub(crate) fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = connect(&self.path)?;
        let (busy, _, _): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        if busy != 0 {
            tracing::warn!(path = %self.path.display(), "the write-ahead log could not be emptied: a reader holds it");
        }
        Ok(())
    }
}

fn writer(conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP_LIMIT {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let (size, started) = (batch.len(), Instant::now());
        run_group(&conn, batch);
        tracing::trace!(group = size, micros = started.elapsed().as_micros() as u64, "committed");
    }
}

/// Runs a group of closures in one transaction and answers each after the
/// commit (or with the error that lost their work). Each closure runs in a
/// savepoint of its own; when a savepoint cannot be made, released or
/// rolled back, what the transaction holds is no longer known, so the whole
/// group is rolled back and every closure in it told so — never committed
/// on a guess.
fn run_group(conn: &Connection, batch: Vec<Job>) {
    let mut waiting: Vec<Finish> = Vec::with_capacity(batch.len());
    for job in batch {
        if conn.is_autocommit() {
            // Not begun yet, or a previous closure's failure made SQLite roll
            // the whole transaction back: what ran before it is lost.
            answer_all(&mut waiting, || StoreError::Aborted);
            if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                // Dropped unrun: its caller hears that the write was not done.
                tracing::error!(error = %e, "cannot begin a write transaction");
                drop(job);
                continue;
            }
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "cannot open a savepoint; the write is not run");
            drop(job);
            abandon(conn, &mut waiting);
            continue;
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn)));
        let (succeeded, finish) = match outcome {
            Ok((ok, finish)) => (ok, Some(finish)),
            Err(_) => {
                tracing::error!("a write transaction panicked; its changes are rolled back");
                (false, None)
            }
        };
        let close = if succeeded { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        match (conn.execute_batch(close), finish) {
            (Ok(()), Some(finish)) if succeeded => waiting.push(finish),
            // A failed closure's answer does not wait for the commit.
            (Ok(()), Some(finish)) => finish(Ok(())),
            (Ok(()), None) => {}
            (Err(e), finish) => {
                tracing::error!(error = %e, "a savepoint could not be closed; the whole group is rolled back");
                if let Some(finish) = finish {
                    finish(if succeeded { Err(StoreError::Aborted) } else { Ok(()) });
                }
                abandon(conn, &mut waiting);
            }
        }
    }
    let committed = if conn.is_autocommit() {
        Err(StoreError::Aborted)
    } else {
        conn.execute_batch("COMMIT").map_err(|e| {
            rollback(conn);
            StoreError::from(e)
        })
    };
    for finish in waiting {
        finish(committed.as_ref().map(|_| ()).map_err(StoreError::again));
    }
}
/// Rolls the group's transaction back and tells every closure waiting for
/// its commit that its write was lost.
fn abandon(conn: &Connection, waiting: &mut Vec<Finish>) {
    rollback(conn);
    answer_all(waiting, || StoreError::Aborted);
}

fn answer_all(waiting: &mut Vec<Finish>, error: impl Fn() -> StoreError) {
    for finish in waiting.drain(..) {
        finish(Err(error()));
    }
}

/// Rolls back the open transaction, if any; a failure is logged (the
/// connection is then left to SQLite's own recovery at the next BEGIN).
fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "a write transaction could not be rolled back");
        }
    }
}

/// Binds `$N` parameters by their number (SQLite numbers named parameters
/// in order of first appearance, so `$2 … $1` needs the look-up).
fn bind(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<(), StoreError> {
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or("");
        let number: usize = name
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Parameter(format!("{name:?}: write parameters as $1, $2, …")))?;
        let value = params
            .get(number.wrapping_sub(1))
            .ok_or_else(|| StoreError::Parameter(format!("${number} has no value ({} given)", params.len())))?;
        match value {
            Value::Int(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Text(v) => stmt.raw_bind_parameter(index, v)?,
            Value::Blob(v) => stmt.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

/// Runs a statement; returns the rows changed.
pub(crate) fn execute(conn: &Connection, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    Ok(stmt.raw_execute()? as u64)
}

/// Runs a query; returns up to `limit` rows.
pub(crate) fn query(conn: &Connection, sql: &str, params: &[Value], limit: usize) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind(&mut stmt, params)?;
    let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_string).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let mut values = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => Value::Text(None),
                ValueRef::Integer(v) => Value::Int(Some(v)),
                ValueRef::Real(v) => Value::Text(Some(v.to_string())),
                ValueRef::Text(v) => Value::Text(Some(String::from_utf8_lossy(v).into_owned())),
                ValueRef::Blob(v) => Value::Blob(Some(v.to_vec())),
            });
        }
        out.push(Row { columns: columns.clone(), values });
    }
    Ok(out)
}
