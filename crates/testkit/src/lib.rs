//! Test helpers shared by openjpki's crates (dev-only): what each test
//! suite would otherwise write again.
//!
//! - [`http`]: one request through a router without a listener, as a
//!   given caller (anonymous, an operator's bearer token, a peer service's
//!   client certificate), and its status and JSON;
//! - [`database`]: a database of its own per test — a SQLite file, or a
//!   new database on the PostgreSQL server `JPKI_TEST_POSTGRES` names
//!   (tests/interop/postgres.sh).
#![forbid(unsafe_code)]

pub mod database;
pub mod http;
