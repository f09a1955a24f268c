//! Secret bytes and how every crate compares them (DESIGN.md "Rules that
//! hold everywhere": secrets zeroized and redacted, comparisons in constant
//! time). One type and one comparison, so a fix to either reaches every
//! PIN, key, token and MAC check.
#![forbid(unsafe_code)]

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Compares `a` and `b` in time that depends only on their lengths (MACs,
/// cryptograms, PINs, tokens, commitments).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// Bytes that must not be logged or left in memory (PINs, private keys,
/// SCP03 keys, the my number): zeroized on drop, printed as `REDACTED`,
/// serialized as base64 (through a zeroized buffer).
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

    /// Compares with `other` in constant time ([`ct_eq`]).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq(&self.0, other)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("REDACTED")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&zeroize::Zeroizing::new(STANDARD.encode(&self.0)))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(d)?);
        STANDARD.decode(text.as_bytes()).map(Secret).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "secret::b64")]`: public binary fields (certificates,
/// CMS) as standard base64.
pub mod b64 {
    use super::*;

    /// Serializes bytes as standard base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    /// Deserializes standard base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(|_| serde::de::Error::custom("must be base64"))
    }
}

/// `#[serde(with = "b64_list")]` for `Vec<Vec<u8>>` fields: a list of
/// standard base64 strings (certificate chains).
pub mod b64_list {
    use super::*;

    /// Serializes each element as standard base64.
    pub fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|b| STANDARD.encode(b)))
    }

    /// Deserializes a list of standard base64 strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| STANDARD.decode(t.as_bytes()).map_err(|_| serde::de::Error::custom("must be base64")))
            .collect()
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
        assert!(!ct_eq(b"", b"0"));
        assert!(ct_eq(b"", b""));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"MTIzNA==\"");
        assert_eq!(serde_json::from_str::<Secret>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Secret>("\"not base64!\"").is_err());
    }
}
