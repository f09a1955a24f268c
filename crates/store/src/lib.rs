//! Persistence for openjpki's services: SQLite (a file, the default) or
//! PostgreSQL (`postgres://…`), one schema written in the SQL both accept,
//! migrations applied at start.
//!
//! A transaction is a closure over a [`Tx`] ([`Store::write`]): it runs
//! whole, commits when it returns `Ok`, rolls back when it returns `Err`,
//! and the caller hears the outcome only after the commit is durable. On
//! SQLite the closures run on one writer thread with group commit (see
//! `sqlite.rs`), so writers are serial; on PostgreSQL they run on the
//! blocking pool, and a closure locks the rows it reads with
//! [`Tx::for_update`].
#![forbid(unsafe_code)]

mod postgres;
mod sqlite;
mod value;

pub use sqlx;
pub use value::{Row, Value};

use std::path::Path;
use std::sync::Arc;
use tokio::runtime::Handle;

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused or failed.
    #[error("database: {0}")]
    Postgres(#[from] sqlx::Error),
    /// The URL names no supported database.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    Url(String),
    /// A column is missing or holds another type.
    #[error("database: column {column:?} is not {wanted}")]
    Column {
        /// The column.
        column: String,
        /// What the caller wanted.
        wanted: &'static str,
    },
    /// A stored value the reader does not understand (a state it does not
    /// know, text that should be hex).
    #[error("database: stored value: {0}")]
    Decode(String),
    /// A statement's parameters do not match its values.
    #[error("database: parameter {0}")]
    Parameter(String),
    /// The writer is gone or did not run the transaction.
    #[error("database: the write was not run: {0}")]
    Closed(String),
    /// Another transaction of the same commit group failed in a way that
    /// rolled back the whole group; nothing of this one was kept.
    #[error("database: the transaction was rolled back with its commit group; retry")]
    Aborted,
    /// The commit failed; nothing of the transaction was kept.
    #[error("database: commit failed: {0}")]
    Commit(String),
}

impl StoreError {
    /// A copy for each transaction of a commit group that failed.
    fn again(&self) -> StoreError {
        StoreError::Commit(self.to_string())
    }

    /// A UNIQUE or PRIMARY KEY constraint refused the row.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            StoreError::Postgres(e) => e.as_database_error().is_some_and(|d| d.is_unique_violation()),
            _ => false,
        }
    }
}

/// Which engine is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(Arc<sqlite::Sqlite>),
    Postgres(sqlx::PgPool),
}

/// The database of one service.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

/// One schema version per entry, applied in order (`schema_version` tracks).
pub type Migration = (&'static str, &'static str);

/// A transaction in progress, handed to the closure of [`Store::write`] or
/// [`Store::read`]. Parameters are written `$1`, `$2`, … in the SQL.
pub struct Tx<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a Handle, &'a mut sqlx::PgConnection),
}

impl Tx<'_> {
    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match &mut self.inner {
            Inner::Sqlite(conn) => sqlite::execute(conn, sql, params),
            Inner::Postgres(rt, conn) => postgres::execute(rt, conn, sql, params),
        }
    }

    /// Runs a query; returns every row.
    pub fn all(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match &mut self.inner {
            Inner::Sqlite(conn) => sqlite::query(conn, sql, params, usize::MAX),
            Inner::Postgres(rt, conn) => postgres::query(rt, conn, sql, params),
        }
    }

    /// Runs a query; returns its first row, if any.
    pub fn optional(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(match &mut self.inner {
            Inner::Sqlite(conn) => sqlite::query(conn, sql, params, 1)?,
            Inner::Postgres(rt, conn) => postgres::query(rt, conn, sql, params)?,
        }
        .into_iter()
        .next())
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        match self.inner {
            Inner::Sqlite(_) => Engine::Sqlite,
            Inner::Postgres(..) => Engine::Postgres,
        }
    }

    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite (writers are serial).
    pub fn for_update(&self) -> &'static str {
        match self.engine() {
            Engine::Postgres => " FOR UPDATE",
            Engine::Sqlite => "",
        }
    }
}

impl Store {
    /// Connects (creating a SQLite file if needed) and applies `migrations`.
    pub async fn open(url: &str, migrations: &'static [Migration]) -> Result<Self, StoreError> {
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            let path = Path::new(path.split('?').next().unwrap_or(path)).to_path_buf();
            Backend::Sqlite(
                tokio::task::spawn_blocking(move || sqlite::Sqlite::open(&path))
                    .await
                    .map_err(|e| StoreError::Closed(e.to_string()))??,
            )
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(url).await?)
        } else {
            return Err(StoreError::Url(url.into()));
        };
        let store = Self { backend };
        store.write(move |tx| migrate(tx, migrations)).await?;
        Ok(store)
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        match self.backend {
            Backend::Sqlite(_) => Engine::Sqlite,
            Backend::Postgres(_) => Engine::Postgres,
        }
    }

    /// Runs `f` as one transaction: committed (durably) if it returns `Ok`,
    /// rolled back if it returns `Err`; the result comes back after that.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(db) => {
                let (answer, answered) = tokio::sync::oneshot::channel();
                let job: sqlite::Job = Box::new(move |conn| {
                    let result = f(&mut Tx { inner: Inner::Sqlite(conn) });
                    let ok = result.is_ok();
                    let finish: sqlite::Finish = Box::new(move |committed| {
                        let _ = answer.send(committed.map_err(E::from).and(result));
                    });
                    (ok, finish)
                });
                db.send(job)?;
                answered.await.map_err(|_| StoreError::Closed("the transaction was not run".into()))?
            }
            Backend::Postgres(pool) => {
                let (pool, rt) = (pool.clone(), Handle::current());
                tokio::task::spawn_blocking(move || {
                    let mut conn = rt.block_on(pool.begin()).map_err(StoreError::from)?;
                    let result = f(&mut Tx { inner: Inner::Postgres(&rt, &mut conn) });
                    match result {
                        Ok(_) => rt.block_on(conn.commit()).map_err(StoreError::from)?,
                        Err(_) => rt.block_on(conn.rollback()).map_err(StoreError::from)?,
                    }
                    result
                })
                .await
                .map_err(|e| StoreError::Closed(e.to_string()))?
            }
        }
    }

    /// Closes the store at a service's shutdown: writes already queued are
    /// committed first (their callers answered), then SQLite's write-ahead
    /// log is folded into the database file, so the file alone is the
    /// whole state (a copy of it is a backup); PostgreSQL's connections
    /// are closed.
    pub async fn close(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(db) => {
                // The writer runs jobs in order: once this empty one is
                // answered, every earlier write is committed.
                self.write(|_| Ok::<_, StoreError>(())).await?;
                let db = db.clone();
                tokio::task::spawn_blocking(move || db.checkpoint())
                    .await
                    .map_err(|e| StoreError::Closed(e.to_string()))?
            }
            Backend::Postgres(pool) => {
                pool.close().await;
                Ok(())
            }
        }
    }

    /// Whether the store answers a query (health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|tx| tx.optional("SELECT 1 AS one", &[]).map(|_| ())).await
    }

    /// Runs `f` over committed state, beside the writer (SQLite's WAL lets
    /// readers go on while a write is in progress). On SQLite it runs on
    /// the caller's thread: a look-up by key takes microseconds.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(db) => db.read(|conn| f(&mut Tx { inner: Inner::Sqlite(conn) }))?,
            Backend::Postgres(_) => self.write(f).await,
        }
    }
}

fn migrate(tx: &mut Tx<'_>, migrations: &[Migration]) -> Result<(), StoreError> {
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY)", &[])?;
    for (name, sql) in migrations {
        if tx.optional("SELECT name FROM schema_version WHERE name = $1", params![*name])?.is_some() {
            continue;
        }
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            tx.execute(statement, &[])?;
        }
        tx.execute("INSERT INTO schema_version (name) VALUES ($1)", params![*name])?;
        tracing::info!(migration = name, "schema migrated");
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// Declares a state kept in a text column: its variants and their text.
/// The enum gets `as_str` and `parse` (an unknown text is
/// [`StoreError::Decode`]), so the SQL keeps the text and the rules see
/// only the enum.
#[macro_export]
macro_rules! stored_state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// The text in the store (and in answers).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// From the store.
            pub fn parse(text: &str) -> Result<Self, $crate::StoreError> {
                match text {
                    $($text => Ok($name::$variant),)*
                    other => Err($crate::StoreError::Decode(format!(concat!(stringify!($name), " {:?}"), other))),
                }
            }
        }
    };
}
