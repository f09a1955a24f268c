//! Serde helpers: secret bytes (the workspace's one secret type) and hex
//! fields.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Key bytes in the SE file.
pub type SecretBytes = secret::Secret;

/// Public bytes stored as hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexBytes(#[serde(with = "hex_bytes")] pub Vec<u8>);

/// `#[serde(with = "hex_bytes")]` for `Vec<u8>` fields.
pub mod hex_bytes {
    use super::*;

    /// Serializes as upper-case hex.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b.iter().map(|x| format!("{x:02X}")).collect::<String>())
    }

    /// Parses hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let t = String::deserialize(d)?;
        if t.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd hex length"));
        }
        (0..t.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(serde::de::Error::custom))
            .collect()
    }
}
