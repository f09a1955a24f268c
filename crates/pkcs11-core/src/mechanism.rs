//! The signature mechanisms (fact sheet §2.5): `CKM_RSA_PKCS` over the
//! caller's DigestInfo, and `CKM_SHA*_RSA_PKCS`, where the module hashes
//! and prepends the DigestInfo prefix of RFC 8017 §9.2 note 1. The card
//! pads (PKCS#1 v1.5 type 1) and signs; it has no PSS and no raw RSA.

use crate::rv::{Result, Rv};
use aws_lc_rs::digest;
use cryptoki_sys::*;

/// A supported mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// `CKM_RSA_PKCS`: the input is the DigestInfo, single part.
    RsaPkcs,
    /// `CKM_SHA1_RSA_PKCS` … `CKM_SHA512_RSA_PKCS`.
    Hashed(Hash),
}

/// A hash of a `CKM_SHA*_RSA_PKCS` mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-1 (legacy; still asked for by old clients).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// The mechanisms `C_GetMechanismList` reports, in that order.
pub const SUPPORTED: [CK_MECHANISM_TYPE; 6] = [
    CKM_RSA_PKCS,
    CKM_SHA1_RSA_PKCS,
    CKM_SHA224_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
];

/// Largest `CKM_RSA_PKCS` input for a 2048-bit key: k − 11 (RFC 8017 §9.2).
pub const MAX_RAW_INPUT: usize = 256 - 11;

impl Mechanism {
    /// The mechanism `ty` with parameter bytes `params`: none of ours
    /// takes a parameter.
    pub fn from_raw(ty: CK_MECHANISM_TYPE, params: &[u8]) -> Result<Self> {
        let m = match ty {
            CKM_RSA_PKCS => Mechanism::RsaPkcs,
            CKM_SHA1_RSA_PKCS => Mechanism::Hashed(Hash::Sha1),
            CKM_SHA224_RSA_PKCS => Mechanism::Hashed(Hash::Sha224),
            CKM_SHA256_RSA_PKCS => Mechanism::Hashed(Hash::Sha256),
            CKM_SHA384_RSA_PKCS => Mechanism::Hashed(Hash::Sha384),
            CKM_SHA512_RSA_PKCS => Mechanism::Hashed(Hash::Sha512),
            _ => return Err(Rv(CKR_MECHANISM_INVALID)),
        };
        if !params.is_empty() {
            return Err(Rv(CKR_MECHANISM_PARAM_INVALID));
        }
        Ok(m)
    }

    /// `C_GetMechanismInfo`: key sizes in bits and flags.
    pub fn info(ty: CK_MECHANISM_TYPE) -> Result<(CK_ULONG, CK_ULONG, CK_FLAGS)> {
        if SUPPORTED.contains(&ty) {
            Ok((2048, 2048, CKF_HW | CKF_SIGN))
        } else {
            Err(Rv(CKR_MECHANISM_INVALID))
        }
    }
}

impl Hash {
    fn algorithm(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha224 => &digest::SHA224,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }

    /// The DER DigestInfo up to the hash value (RFC 8017 §9.2 note 1).
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha1 => &[0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14],
            Hash::Sha224 => &SHA2_PREFIX[0],
            Hash::Sha256 => &SHA2_PREFIX[1],
            Hash::Sha384 => &SHA2_PREFIX[2],
            Hash::Sha512 => &SHA2_PREFIX[3],
        }
    }
}

/// DigestInfo prefixes of SHA-224/256/384/512 (OID 2.16.840.1.101.3.4.2.{4,1,2,3}).
const SHA2_PREFIX: [[u8; 19]; 4] = [
    sha2_prefix(0x2d, 0x04, 0x1c),
    sha2_prefix(0x31, 0x01, 0x20),
    sha2_prefix(0x41, 0x02, 0x30),
    sha2_prefix(0x51, 0x03, 0x40),
];

const fn sha2_prefix(total: u8, arc: u8, len: u8) -> [u8; 19] {
    [0x30, total, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, arc, 0x05, 0x00, 0x04, len]
}

/// The input of a signature operation as it accumulates.
#[derive(Clone)]
pub enum Input {
    /// `CKM_RSA_PKCS`: the DigestInfo bytes.
    Raw(Vec<u8>),
    /// A hashing mechanism's running hash.
    Hashing(Hash, digest::Context),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Raw(b) => write!(f, "Raw({} bytes)", b.len()),
            Input::Hashing(h, _) => write!(f, "Hashing({h:?})"),
        }
    }
}

impl Input {
    /// A fresh input for `mechanism`.
    pub fn new(mechanism: Mechanism) -> Self {
        match mechanism {
            Mechanism::RsaPkcs => Input::Raw(Vec::new()),
            Mechanism::Hashed(h) => Input::Hashing(h, digest::Context::new(h.algorithm())),
        }
    }

    /// Adds a part. A raw input longer than a signature can take is
    /// refused at once (`CKR_DATA_LEN_RANGE`).
    pub fn update(&mut self, part: &[u8]) -> Result<()> {
        match self {
            Input::Raw(buf) => {
                if buf.len() + part.len() > MAX_RAW_INPUT {
                    return Err(Rv(CKR_DATA_LEN_RANGE));
                }
                buf.extend_from_slice(part);
            }
            Input::Hashing(_, ctx) => ctx.update(part),
        }
        Ok(())
    }

    /// What the card signs: the DigestInfo.
    pub fn digest_info(&self) -> Result<Vec<u8>> {
        match self {
            Input::Raw(buf) if buf.is_empty() => Err(Rv(CKR_DATA_LEN_RANGE)),
            Input::Raw(buf) => Ok(buf.clone()),
            Input::Hashing(h, ctx) => {
                let hash = ctx.clone().finish();
                Ok([h.digest_info_prefix(), hash.as_ref()].concat())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prefixes are the DER of DigestInfo with an empty hash (checked
    /// against the constants RFC 8017 §9.2 lists).
    #[test]
    fn digest_info_prefixes_are_rfc_8017s() {
        let hex = |h: Hash| hex_string(h.digest_info_prefix());
        assert_eq!(hex(Hash::Sha1), "3021300906052b0e03021a05000414");
        assert_eq!(hex(Hash::Sha224), "302d300d06096086480165030402040500041c");
        assert_eq!(hex(Hash::Sha256), "3031300d060960864801650304020105000420");
        assert_eq!(hex(Hash::Sha384), "3041300d060960864801650304020205000430");
        assert_eq!(hex(Hash::Sha512), "3051300d060960864801650304020305000440");
    }

    fn hex_string(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn multi_part_hash_equals_single_part_and_raw_input_is_bounded() {
        let mut a = Input::new(Mechanism::Hashed(Hash::Sha256));
        a.update(b"hello ").unwrap();
        a.update(b"world").unwrap();
        let mut b = Input::new(Mechanism::Hashed(Hash::Sha256));
        b.update(b"hello world").unwrap();
        assert_eq!(a.digest_info().unwrap(), b.digest_info().unwrap());
        assert_eq!(a.digest_info().unwrap().len(), 19 + 32);
        let mut raw = Input::new(Mechanism::RsaPkcs);
        assert_eq!(raw.digest_info(), Err(Rv(CKR_DATA_LEN_RANGE)), "nothing to sign");
        raw.update(&[0; 245]).unwrap();
        assert_eq!(raw.update(&[0]), Err(Rv(CKR_DATA_LEN_RANGE)));
        assert_eq!(Mechanism::from_raw(CKM_RSA_PKCS_PSS, &[]), Err(Rv(CKR_MECHANISM_INVALID)));
        assert_eq!(Mechanism::from_raw(CKM_SHA256_RSA_PKCS, &[1]), Err(Rv(CKR_MECHANISM_PARAM_INVALID)));
    }
}
