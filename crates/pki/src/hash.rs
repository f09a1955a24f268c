//! Hash algorithms used with JPKI keys, and their PKCS#1 DigestInfo encodings.

use const_oid::{db::rfc5912, ObjectIdentifier};

/// A hash algorithm for PKCS#1 v1.5 signatures and CMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// SHA-1 (legacy; myna's Go CLI defaulted to it).
    Sha1,
    /// SHA-256, the default everywhere.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Every supported algorithm.
    pub const ALL: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    /// Lower-case name as used on command lines (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// Parses a name such as `sha256` or `SHA-256`.
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase().replace('-', "");
        HashAlg::ALL.into_iter().find(|h| h.name() == n)
    }

    /// The digest algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashAlg::Sha1 => rfc5912::ID_SHA_1,
            HashAlg::Sha256 => rfc5912::ID_SHA_256,
            HashAlg::Sha384 => rfc5912::ID_SHA_384,
            HashAlg::Sha512 => rfc5912::ID_SHA_512,
        }
    }

    /// The hash algorithm with this OID, if supported.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        HashAlg::ALL.into_iter().find(|h| h.oid() == *oid)
    }

    /// `<hash>WithRSAEncryption` (RFC 4055 §5, RFC 8017 App. A.2.4).
    pub fn rsa_signature_oid(self) -> ObjectIdentifier {
        match self {
            HashAlg::Sha1 => rfc5912::SHA_1_WITH_RSA_ENCRYPTION,
            HashAlg::Sha256 => rfc5912::SHA_256_WITH_RSA_ENCRYPTION,
            HashAlg::Sha384 => rfc5912::SHA_384_WITH_RSA_ENCRYPTION,
            HashAlg::Sha512 => rfc5912::SHA_512_WITH_RSA_ENCRYPTION,
        }
    }

    /// The hash algorithm of a `<hash>WithRSAEncryption` OID.
    pub fn from_rsa_signature_oid(oid: &ObjectIdentifier) -> Option<Self> {
        HashAlg::ALL.into_iter().find(|h| h.rsa_signature_oid() == *oid)
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlg::Sha1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlg::Sha384 => &aws_lc_rs::digest::SHA384,
            HashAlg::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws(), data).as_ref().to_vec()
    }

    /// The fixed DER prefix of `DigestInfo` for this hash (RFC 8017 §9.2, note 1).
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => {
                &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14]
            }
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
                0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
                0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00,
                0x04, 0x40,
            ],
        }
    }

    /// `DigestInfo` over an already computed digest (what the card is sent).
    pub fn digest_info(self, digest: &[u8]) -> Vec<u8> {
        [self.digest_info_prefix(), digest].concat()
    }

    /// Recognizes a `DigestInfo`: the hash algorithm and the digest inside.
    pub fn split_digest_info(data: &[u8]) -> Option<(HashAlg, &[u8])> {
        HashAlg::ALL.into_iter().find_map(|h| {
            let digest = data.strip_prefix(h.digest_info_prefix())?;
            (digest.len() == h.output_len()).then_some((h, digest))
        })
    }
}

impl std::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HashAlg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlg::from_name(s).ok_or_else(|| format!("unknown hash {s:?}: use sha1, sha256, sha384 or sha512"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{asn1::OctetString, Encode};
    use spki::AlgorithmIdentifierOwned;

    /// The hard-coded prefixes equal a DER encoding of DigestInfo made with `der`.
    #[test]
    fn digest_info_prefixes_match_der() {
        #[derive(der::Sequence)]
        struct DigestInfo {
            alg: AlgorithmIdentifierOwned,
            digest: OctetString,
        }
        for h in HashAlg::ALL {
            let digest = h.digest(b"abc");
            let di = DigestInfo {
                alg: AlgorithmIdentifierOwned { oid: h.oid(), parameters: Some(der::asn1::Null.into()) },
                digest: OctetString::new(digest.clone()).unwrap(),
            };
            assert_eq!(di.to_der().unwrap(), h.digest_info(&digest), "{h}");
            assert_eq!(HashAlg::split_digest_info(&h.digest_info(&digest)), Some((h, &digest[..])));
        }
        assert_eq!(HashAlg::split_digest_info(&[0u8; 51]), None);
    }

    #[test]
    fn digest_info_lengths_match_the_card_sheet() {
        // jpki-card.md §4.2: SHA-1 35, SHA-256 51, SHA-384 67, SHA-512 83 bytes.
        let lens: Vec<_> = HashAlg::ALL.iter().map(|h| h.digest_info(&h.digest(b"")).len()).collect();
        assert_eq!(lens, [35, 51, 67, 83]);
    }
}
