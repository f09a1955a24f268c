//! Values bound to statements and read from rows, the same for both engines.

use crate::StoreError;
use std::sync::Arc;

/// A statement parameter or a column value. A NULL keeps its type, because
/// PostgreSQL types every parameter of a prepared statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An integer (`BIGINT`; SQLite `INTEGER`).
    Int(Option<i64>),
    /// Text.
    Text(Option<String>),
    /// Bytes (`BYTEA`; SQLite `BLOB`).
    Blob(Option<Vec<u8>>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(Some(v))
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(Some(v.to_vec()))
    }
}

impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Self {
        Value::Blob(Some(v.clone()))
    }
}

impl From<Option<Vec<u8>>> for Value {
    fn from(v: Option<Vec<u8>>) -> Self {
        Value::Blob(v)
    }
}

/// Statement parameters, `$1` first: `params![serial, 7i64, der]`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::Value::from($value)),*][..]
    };
}

/// One result row: column names and values.
#[derive(Debug, Clone)]
pub struct Row {
    pub(crate) columns: Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

impl Row {
    fn value(&self, column: &str) -> Result<&Value, StoreError> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Column { column: column.into(), wanted: "a column of that name" })
    }

    fn wrong(column: &str, wanted: &'static str) -> StoreError {
        StoreError::Column { column: column.into(), wanted }
    }

    /// A nullable text column.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.value(column)? {
            Value::Text(v) => Ok(v.clone()),
            Value::Int(None) | Value::Blob(None) => Ok(None),
            _ => Err(Self::wrong(column, "text")),
        }
    }

    /// A text column.
    pub fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?.ok_or_else(|| Self::wrong(column, "text, not NULL"))
    }

    /// A nullable integer column.
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.value(column)? {
            Value::Int(v) => Ok(*v),
            Value::Text(None) | Value::Blob(None) => Ok(None),
            _ => Err(Self::wrong(column, "an integer")),
        }
    }

    /// An integer column.
    pub fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?.ok_or_else(|| Self::wrong(column, "an integer, not NULL"))
    }

    /// A nullable bytes column.
    pub fn opt_blob(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.value(column)? {
            Value::Blob(v) => Ok(v.clone()),
            Value::Int(None) | Value::Text(None) => Ok(None),
            _ => Err(Self::wrong(column, "bytes")),
        }
    }

    /// A bytes column.
    pub fn blob(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.opt_blob(column)?.ok_or_else(|| Self::wrong(column, "bytes, not NULL"))
    }
}
