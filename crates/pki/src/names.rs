//! Distinguished names of the JPKI hierarchy (jpki-profiles.md §1.2).

use const_oid::db::rfc4519;
use const_oid::ObjectIdentifier;
use der::asn1::{Any, PrintableStringRef, SetOfVec, Utf8StringRef};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

/// Which of the two JPKI CAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaKind {
    /// 利用者証明用 (user authentication).
    Auth,
    /// 署名用 (digital signature).
    Sign,
}

/// Production names (`O=JPKI`) or the J-LIS test hierarchy (`O=JPKI-TEST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hierarchy {
    /// `O=JPKI`: only for interoperability tests with look-alike names.
    Production,
    /// `O=JPKI-TEST`, the default for everything openjpki issues.
    Test,
}

impl CaKind {
    /// The CA's distinguished name: `C=JP, O=JPKI[-TEST], OU=JPKI for …,
    /// OU=Japan Agency for Local Authority Information Systems`.
    pub fn dn(self, hierarchy: Hierarchy) -> Name {
        let o = match hierarchy {
            Hierarchy::Production => "JPKI",
            Hierarchy::Test => "JPKI-TEST",
        };
        let ou = match self {
            CaKind::Auth => "JPKI for user authentication",
            CaKind::Sign => "JPKI for digital signature",
        };
        name(&[
            (rfc4519::C, "JP"),
            (rfc4519::O, o),
            (rfc4519::OU, ou),
            (rfc4519::OU, "Japan Agency for Local Authority Information Systems"),
        ])
    }

    /// Lower-case name (`auth`, `sign`).
    pub fn as_str(self) -> &'static str {
        match self {
            CaKind::Auth => "auth",
            CaKind::Sign => "sign",
        }
    }
}

/// Builds a name from (attribute, value) pairs, most general first. ASCII
/// values that fit PrintableString are written as such, others as UTF8String
/// (RFC 5280 §4.1.2.4).
pub fn name(attrs: &[(ObjectIdentifier, &str)]) -> Name {
    let rdns = attrs
        .iter()
        .map(|(oid, value)| {
            let value = if value.bytes().all(is_printable) {
                Any::encode_from(&PrintableStringRef::new(value).expect("printable"))
            } else {
                Any::encode_from(&Utf8StringRef::new(value).expect("utf-8"))
            }
            .expect("attribute value encodes");
            let atv = AttributeTypeAndValue { oid: *oid, value };
            RelativeDistinguishedName(SetOfVec::try_from(vec![atv]).expect("one attribute"))
        })
        .collect();
    RdnSequence(rdns)
}

fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}
