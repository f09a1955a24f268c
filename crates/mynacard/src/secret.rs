//! Secret bytes: zeroized on drop, printed as REDACTED, stored as base64.

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes that must not be logged or left in memory (PINs, private keys, the
/// my number).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The bytes; handle with care.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Compares with `other` in time that depends only on the lengths.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        if self.0.len() != other.len() {
            return false;
        }
        let diff = self.0.iter().zip(other).fold(0u8, |acc, (a, b)| acc | std::hint::black_box(a ^ b));
        std::hint::black_box(diff) == 0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("REDACTED")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = zeroize::Zeroizing::new(STANDARD.encode(&self.0));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(d)?);
        STANDARD.decode(text.as_bytes()).map(Secret).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for public binary fields (certificates) as base64.
pub mod b64 {
    use super::*;

    /// Serializes bytes as standard base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    /// Deserializes standard base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_and_constant_time_compare() {
        let s = Secret::new(b"1234".to_vec());
        assert_eq!(format!("{s:?}"), "REDACTED");
        assert!(s.ct_eq(b"1234"));
        assert!(!s.ct_eq(b"1235"));
        assert!(!s.ct_eq(b"12345"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"MTIzNA==\"");
        assert_eq!(serde_json::from_str::<Secret>(&json).unwrap(), s);
    }
}
