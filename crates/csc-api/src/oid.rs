//! The algorithm OIDs the API carries as dotted strings (spec/csc-sam.md §1.0).

/// SHA-256.
pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
/// SHA-384.
pub const SHA384: &str = "2.16.840.1.101.3.4.2.2";
/// SHA-512.
pub const SHA512: &str = "2.16.840.1.101.3.4.2.3";
/// rsaEncryption: PKCS#1 v1.5, the hash named by `hashAlgorithmOID`.
pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// sha256WithRSAEncryption.
pub const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
/// sha384WithRSAEncryption.
pub const SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
/// sha512WithRSAEncryption.
pub const SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";
/// The signature algorithms an RSA credential offers in `key.algo`.
pub const RSA_ALGOS: [&str; 4] = [RSA_ENCRYPTION, SHA256_WITH_RSA, SHA384_WITH_RSA, SHA512_WITH_RSA];

/// The hash algorithm (its OID) a PKCS#1 v1.5 `signAlgo` implies, if it names one.
pub fn hash_of_sign_algo(sign_algo: &str) -> Option<&'static str> {
    match sign_algo {
        SHA256_WITH_RSA => Some(SHA256),
        SHA384_WITH_RSA => Some(SHA384),
        SHA512_WITH_RSA => Some(SHA512),
        _ => None,
    }
}

/// The digest length of a hash OID, if it is one the API accepts (SHA-256 or stronger).
pub fn digest_len(hash_oid: &str) -> Option<usize> {
    match hash_oid {
        SHA256 => Some(32),
        SHA384 => Some(48),
        SHA512 => Some(64),
        _ => None,
    }
}
