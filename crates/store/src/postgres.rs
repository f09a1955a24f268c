//! PostgreSQL through `sqlx`: the same closures as SQLite, run on a
//! blocking thread that waits for each statement on the runtime.

use crate::value::{Row, Value};
use crate::StoreError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{Column, PgConnection, Row as _, TypeInfo};
use std::sync::Arc;
use tokio::runtime::Handle;

/// One statement with its parameters bound.
fn statement<'q>(sql: &'q str, params: &[Value]) -> sqlx::query::Query<'q, sqlx::Postgres, PgArguments> {
    let mut query = sqlx::query(sql);
    for value in params {
        query = match value.clone() {
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Blob(v) => query.bind(v),
        };
    }
    query
}

/// Runs a statement; returns the rows changed.
pub(crate) fn execute(rt: &Handle, conn: &mut PgConnection, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    Ok(rt.block_on(statement(sql, params).execute(conn))?.rows_affected())
}

/// Runs a query; returns its rows.
pub(crate) fn query(rt: &Handle, conn: &mut PgConnection, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
    let rows = rt.block_on(statement(sql, params).fetch_all(conn))?;
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let columns: Arc<[String]> = first.columns().iter().map(|c| c.name().to_string()).collect();
    rows.iter().map(|row| Ok(Row { columns: columns.clone(), values: values(row)? })).collect()
}

fn values(row: &PgRow) -> Result<Vec<Value>, StoreError> {
    row.columns()
        .iter()
        .map(|column| {
            let i = column.ordinal();
            Ok(match column.type_info().name() {
                "INT8" => Value::Int(row.try_get::<Option<i64>, _>(i)?),
                "INT4" => Value::Int(row.try_get::<Option<i32>, _>(i)?.map(i64::from)),
                "INT2" => Value::Int(row.try_get::<Option<i16>, _>(i)?.map(i64::from)),
                "BOOL" => Value::Int(row.try_get::<Option<bool>, _>(i)?.map(i64::from)),
                "BYTEA" => Value::Blob(row.try_get::<Option<Vec<u8>>, _>(i)?),
                _ => Value::Text(row.try_get::<Option<String>, _>(i)?),
            })
        })
        .collect()
}
