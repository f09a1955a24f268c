//! A database of its own per test.

use std::path::Path;

/// The URL of a new, empty database for `service`: a SQLite file in `dir`,
/// or, when `JPKI_TEST_POSTGRES` names a PostgreSQL server, a new database
/// on it (a unique name, so tests run side by side).
pub async fn fresh(dir: &Path, service: &str) -> String {
    match std::env::var("JPKI_TEST_POSTGRES") {
        Ok(server) => postgres(&server, service).await,
        Err(_) => format!("sqlite://{}", dir.join(format!("{service}.sqlite")).display()),
    }
}

/// Whether the tests run against PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("JPKI_TEST_POSTGRES").is_ok()
}

/// A new database on `server` named after `service`.
pub async fn postgres(server: &str, service: &str) -> String {
    use store::sqlx;
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres")).await.expect("the PostgreSQL server answers");
    let mut unique = [0u8; 6];
    pki::fill_random(&mut unique);
    let name = format!("{}_{}", service.replace('-', "_"), hex::encode(unique));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("database created");
    format!("{server}/{name}")
}
