//! SCP03 against the published vectors, host and card against each other,
//! and every way a session must break.
#![allow(missing_docs)]

mod sessions;
mod tamper;
mod vectors;

use serde_json::Value;
use std::sync::OnceLock;

pub fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| serde_json::from_str(include_str!("../vectors/scp03.json")).unwrap())
}

pub fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

pub fn byte(v: &Value) -> u8 {
    h(v)[0]
}
