//! Persistence for openjpki's services through `sqlx`'s Any driver: SQLite
//! (a file, the default) or PostgreSQL (`postgres://…`), one schema written
//! in the SQL both accept, migrations applied at start.
//!
//! Writers that must not interleave (issuing a phone certificate for a card
//! while another is being issued) are serialized: on SQLite the pool has one
//! connection, so transactions are serial; on PostgreSQL the caller locks
//! the rows it reads with `FOR UPDATE` ([`Store::for_update`]).
#![forbid(unsafe_code)]

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

pub use sqlx;

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The URL names no supported database.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    Url(String),
}

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connection pool and its engine.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    reader: AnyPool,
    engine: Engine,
}

/// Pool options. A SQLite connection — every one the pool ever opens, not
/// only the first — runs in WAL mode with a full fsync on commit (durable
/// before acknowledged) and foreign keys on; and since a SQLite connection
/// cannot silently break like a socket, the pool does not ping it before
/// each use (that ping is a round trip to sqlx's worker thread).
fn options(engine: Engine, max_connections: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new().max_connections(max_connections);
    match engine {
        Engine::Postgres => options,
        Engine::Sqlite => options.test_before_acquire(false).after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        }),
    }
}

/// One schema version per entry, applied in order (`schema_version` tracks).
pub type Migration = (&'static str, &'static str);

impl Store {
    /// Connects (creating a SQLite file if needed) and applies `migrations`.
    pub async fn open(url: &str, migrations: &[Migration]) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (engine, url, max) = if let Some(path) = url.strip_prefix("sqlite://") {
            (Engine::Sqlite, format!("sqlite://{path}?mode=rwc"), 1)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Engine::Postgres, url.to_string(), 16)
        } else {
            return Err(StoreError::Url(url.into()));
        };
        let pool = options(engine, max).connect(&url).await?;
        // Readers of committed state (status look-ups) do not queue behind
        // the single SQLite writer: WAL lets them read concurrently.
        let reader = match engine {
            Engine::Sqlite => options(engine, 4).connect(&url).await?,
            Engine::Postgres => pool.clone(),
        };
        let store = Self { pool, reader, engine };
        store.migrate(migrations).await?;
        Ok(store)
    }

    async fn migrate(&self, migrations: &[Migration]) -> Result<(), StoreError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (name TEXT PRIMARY KEY)").execute(&self.pool).await?;
        for (name, sql) in migrations {
            let done: Option<AnyRow> = sqlx::query("SELECT name FROM schema_version WHERE name = $1")
                .bind(*name)
                .fetch_optional(&self.pool)
                .await?;
            if done.is_some() {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_version (name) VALUES ($1)").bind(*name).execute(&mut *tx).await?;
            tx.commit().await?;
            tracing::info!(migration = name, "schema migrated");
        }
        Ok(())
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A pool for reads outside write transactions.
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite (already serial).
    pub fn for_update(&self) -> &'static str {
        match self.engine {
            Engine::Postgres => " FOR UPDATE",
            Engine::Sqlite => "",
        }
    }
}

/// Reads a text column.
pub fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(col)?)
}

/// Reads an integer column.
pub fn int(row: &AnyRow, col: &str) -> Result<i64, StoreError> {
    Ok(row.try_get::<i64, _>(col)?)
}

/// Reads a nullable integer column.
pub fn opt_int(row: &AnyRow, col: &str) -> Result<Option<i64>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

/// Reads a blob column.
pub fn blob(row: &AnyRow, col: &str) -> Result<Vec<u8>, StoreError> {
    Ok(row.try_get::<Vec<u8>, _>(col)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[Migration] = &[("1-items", "CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL, data BLOB)")];

    #[tokio::test]
    async fn migrations_apply_once_and_data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
        let s = Store::open(&url, M).await.unwrap();
        sqlx::query("INSERT INTO items (id, n, data) VALUES ($1, $2, $3)")
            .bind("a")
            .bind(7i64)
            .bind(vec![1u8, 2, 3])
            .execute(s.pool())
            .await
            .unwrap();
        drop(s);
        let s = Store::open(&url, M).await.unwrap();
        let row = sqlx::query("SELECT id, n, data FROM items").fetch_one(s.pool()).await.unwrap();
        assert_eq!(
            (text(&row, "id").unwrap(), int(&row, "n").unwrap(), blob(&row, "data").unwrap()),
            ("a".into(), 7, vec![1, 2, 3])
        );
        assert!(matches!(Store::open("mysql://x", M).await, Err(StoreError::Url(_))));
    }

    #[tokio::test]
    async fn every_sqlite_connection_is_durable_and_checks_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&format!("sqlite://{}", dir.path().join("db.sqlite").display()), M).await.unwrap();
        // The reader pool's connections were opened after the writer's.
        for pool in [s.pool(), s.reader(), s.reader()] {
            let mut conn = pool.acquire().await.unwrap();
            let get = |row: AnyRow| row.try_get::<i64, _>(0).unwrap();
            let sync = get(sqlx::query("PRAGMA synchronous").fetch_one(&mut *conn).await.unwrap());
            let fk = get(sqlx::query("PRAGMA foreign_keys").fetch_one(&mut *conn).await.unwrap());
            let journal = sqlx::query("PRAGMA journal_mode").fetch_one(&mut *conn).await.unwrap();
            assert_eq!((sync, fk, journal.try_get::<String, _>(0).unwrap().as_str()), (2, 1, "wal"));
        }
    }
}
