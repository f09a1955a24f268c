//! RSA keys on constant-time backends.
//!
//! Hashed PKCS#1 v1.5 signatures (the CA, CMS) and signatures over a
//! `DigestInfo` with SHA-256/384/512 run on `aws-lc-rs`. The card's `80 2A`
//! command must also pad and sign *any* input of at most `k − 11` bytes
//! (a SHA-1 DigestInfo, a TLS 1.0 MD5‖SHA-1 pair, raw bytes from
//! `CKM_RSA_PKCS`); `aws-lc-rs` exposes no raw private operation, so those go
//! to OpenSSL's `RSA_private_encrypt` with PKCS#1 padding, which is blinded and
//! constant-time as well. Both paths give byte-identical signatures for the
//! same input (PKCS#1 v1.5 is deterministic); a test checks that.
//! The RustCrypto `rsa` crate is not used for private keys (RUSTSEC-2023-0071).

use crate::HashAlg;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use thiserror::Error;
use zeroize::Zeroizing;

/// An RSA failure.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RsaError {
    /// The key bytes are not an RSA private key in PKCS#8.
    #[error("not an RSA private key (PKCS#8 DER expected)")]
    BadPrivateKey,
    /// The public key is not an RSA SubjectPublicKeyInfo, or too small.
    #[error("not an RSA public key of at least 2048 bits")]
    BadPublicKey,
    /// Input longer than the modulus allows with PKCS#1 v1.5 padding.
    #[error("input of {len} bytes is longer than {max}, the most PKCS#1 v1.5 padding allows")]
    InputTooLong {
        /// Input length.
        len: usize,
        /// Longest accepted input (`k − 11`).
        max: usize,
    },
    /// Key generation or the private operation failed.
    #[error("RSA operation failed")]
    Operation,
    /// The token holding the key (PKCS#11) failed.
    #[error("the key's token: {0}")]
    Token(String),
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
}

/// An RSA private key (with its public half).
pub struct RsaPrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    aws: KeyPair,
    openssl: openssl::rsa::Rsa<openssl::pkey::Private>,
}

impl RsaPrivateKey {
    /// Generates a fresh RSA-2048 key pair, e = 65537.
    pub fn generate_2048() -> Result<Self, RsaError> {
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| RsaError::Operation)?;
        let der: Pkcs8V1Der = key.as_der().map_err(|_| RsaError::Operation)?;
        Self::from_pkcs8_der(der.as_ref())
    }

    /// Loads a PKCS#8 `PrivateKeyInfo` (RFC 5208) holding an RSA key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, RsaError> {
        let aws = KeyPair::from_pkcs8(der).map_err(|_| RsaError::BadPrivateKey)?;
        let openssl = openssl::pkey::PKey::private_key_from_pkcs8(der)
            .and_then(|k| k.rsa())
            .map_err(|_| RsaError::BadPrivateKey)?;
        Ok(Self { pkcs8: Zeroizing::new(der.to_vec()), aws, openssl })
    }

    /// The key as PKCS#8 DER (a secret: zeroized when dropped).
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The public key as a DER `SubjectPublicKeyInfo`.
    pub fn public_key_der(&self) -> Vec<u8> {
        let spki: PublicKeyX509Der = self.aws.public_key().as_der().expect("RSA public key encodes");
        spki.as_ref().to_vec()
    }

    /// Modulus length in bytes (the signature length).
    pub fn modulus_len(&self) -> usize {
        self.aws.public_modulus_len()
    }

    /// Hashes `msg` and signs it with PKCS#1 v1.5 (RFC 8017 §8.2.1).
    pub fn sign(&self, hash: HashAlg, msg: &[u8]) -> Result<Vec<u8>, RsaError> {
        self.sign_raw(&hash.digest_info(&hash.digest(msg)))
    }

    /// Pads `data` with PKCS#1 v1.5 type 1 (`00 01 FF…FF 00 ‖ data`,
    /// RFC 8017 §9.2 steps 3–5) and applies the private key — what the JPKI card
    /// does with whatever its `80 2A 00 80` command receives.
    pub fn sign_raw(&self, data: &[u8]) -> Result<Vec<u8>, RsaError> {
        let k = self.modulus_len();
        let max = k - 11;
        if data.len() > max {
            return Err(RsaError::InputTooLong { len: data.len(), max });
        }
        let mut sig = vec![0u8; k];
        let aws_encoding: Option<&'static signature::RsaSignatureEncoding> = match HashAlg::split_digest_info(data) {
            Some((HashAlg::Sha256, _)) => Some(&signature::RSA_PKCS1_SHA256),
            Some((HashAlg::Sha384, _)) => Some(&signature::RSA_PKCS1_SHA384),
            Some((HashAlg::Sha512, _)) => Some(&signature::RSA_PKCS1_SHA512),
            _ => None,
        };
        match (aws_encoding, HashAlg::split_digest_info(data)) {
            (Some(encoding), Some((hash, digest))) => {
                let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, hash_aws(hash))
                    .map_err(|_| RsaError::Operation)?;
                self.aws.sign_digest(encoding, &digest, &mut sig).map_err(|_| RsaError::Operation)?;
            }
            _ => {
                let n = self
                    .openssl
                    .private_encrypt(data, &mut sig, openssl::rsa::Padding::PKCS1)
                    .map_err(|_| RsaError::Operation)?;
                if n != k {
                    return Err(RsaError::Operation);
                }
            }
        }
        Ok(sig)
    }

    /// Signs with OpenSSL only (used by tests to cross-check the two paths).
    #[doc(hidden)]
    pub fn sign_raw_openssl(&self, data: &[u8]) -> Result<Vec<u8>, RsaError> {
        let mut sig = vec![0u8; self.modulus_len()];
        self.openssl.private_encrypt(data, &mut sig, openssl::rsa::Padding::PKCS1).map_err(|_| RsaError::Operation)?;
        Ok(sig)
    }
}

fn hash_aws(hash: HashAlg) -> &'static aws_lc_rs::digest::Algorithm {
    match hash {
        HashAlg::Sha1 => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
        HashAlg::Sha384 => &aws_lc_rs::digest::SHA384,
        HashAlg::Sha512 => &aws_lc_rs::digest::SHA512,
    }
}

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPrivateKey({} bits, REDACTED)", self.modulus_len() * 8)
    }
}

/// The `RSAPublicKey` (PKCS#1) inside a `SubjectPublicKeyInfo`, checked to be RSA.
fn rsa_public_key_bits(spki_der: &[u8]) -> Result<Vec<u8>, RsaError> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(|_| RsaError::BadPublicKey)?;
    if spki.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
        return Err(RsaError::BadPublicKey);
    }
    spki.subject_public_key.as_bytes().map(<[u8]>::to_vec).ok_or(RsaError::BadPublicKey)
}

/// The modulus and public exponent (big-endian, no leading zeros) of the
/// RSA key in a `SubjectPublicKeyInfo` (RFC 8017 A.1.1 `RSAPublicKey`).
pub fn public_numbers(spki_der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), RsaError> {
    use der::Decode;
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: der::asn1::UintRef<'a>,
        exponent: der::asn1::UintRef<'a>,
    }
    let bits = rsa_public_key_bits(spki_der)?;
    let key = RsaPublicKey::from_der(&bits).map_err(|_| RsaError::BadPublicKey)?;
    Ok((key.modulus.as_bytes().to_vec(), key.exponent.as_bytes().to_vec()))
}

/// Verifies a PKCS#1 v1.5 signature over `msg` hashed with `hash`.
pub fn verify(spki_der: &[u8], hash: HashAlg, msg: &[u8], sig: &[u8]) -> Result<(), RsaError> {
    let key = rsa_public_key_bits(spki_der)?;
    let alg: &'static signature::RsaParameters = match hash {
        HashAlg::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        HashAlg::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        HashAlg::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
    };
    UnparsedPublicKey::new(alg, key).verify(msg, sig).map_err(|_| RsaError::BadSignature)
}

/// Applies the public key to `sig` and strips PKCS#1 v1.5 type-1 padding:
/// returns what was signed (`myna jpki pkey verify`). Public operation only.
pub fn recover(spki_der: &[u8], sig: &[u8]) -> Result<Vec<u8>, RsaError> {
    RsaPublicKey::from_spki(spki_der)?.recover(sig)
}

/// An RSA public key parsed once, for many [`RsaPublicKey::recover`]s.
#[derive(Clone)]
pub struct RsaPublicKey(openssl::rsa::Rsa<openssl::pkey::Public>);

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.0.size() * 8)
    }
}

impl RsaPublicKey {
    /// Parses a DER `SubjectPublicKeyInfo` holding an RSA key.
    pub fn from_spki(spki_der: &[u8]) -> Result<Self, RsaError> {
        openssl::pkey::PKey::public_key_from_der(spki_der)
            .and_then(|k| k.rsa())
            .map(Self)
            .map_err(|_| RsaError::BadPublicKey)
    }

    /// What `sig` signed: the public operation, PKCS#1 v1.5 type-1 padding
    /// checked and stripped.
    pub fn recover(&self, sig: &[u8]) -> Result<Vec<u8>, RsaError> {
        let mut out = vec![0u8; self.0.size() as usize];
        let n =
            self.0.public_decrypt(sig, &mut out, openssl::rsa::Padding::PKCS1).map_err(|_| RsaError::BadSignature)?;
        out.truncate(n);
        Ok(out)
    }
}

/// The modulus size in bits of an RSA `SubjectPublicKeyInfo`.
/// Parsed with `der` (RFC 8017 A.1.1 `RSAPublicKey`): OpenSSL 3's decoder
/// framework costs more than the rest of a certificate request's checks.
pub fn public_key_bits(spki_der: &[u8]) -> Result<usize, RsaError> {
    use der::{Decode, Reader};
    let key = rsa_public_key_bits(spki_der)?;
    let (modulus, exponent) = der::SliceReader::new(&key)
        .and_then(|mut r| {
            let parsed = r.sequence(|seq| Ok((der::asn1::UintRef::decode(seq)?, der::asn1::UintRef::decode(seq)?)))?;
            r.finish(parsed)
        })
        .map_err(|_| RsaError::BadPublicKey)?;
    let n = modulus.as_bytes();
    if n.is_empty() || exponent.as_bytes().is_empty() {
        return Err(RsaError::BadPublicKey);
    }
    Ok(n.len() * 8 - n[0].leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    pub(crate) fn test_key() -> &'static RsaPrivateKey {
        static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
        KEY.get_or_init(|| RsaPrivateKey::generate_2048().unwrap())
    }

    #[test]
    fn both_backends_agree_on_every_digest_info() {
        let key = test_key();
        for h in HashAlg::ALL {
            let di = h.digest_info(&h.digest(b"hello"));
            assert_eq!(key.sign_raw(&di).unwrap(), key.sign_raw_openssl(&di).unwrap(), "{h}");
            let sig = key.sign(h, b"hello").unwrap();
            verify(&key.public_key_der(), h, b"hello", &sig).unwrap();
            assert_eq!(recover(&key.public_key_der(), &sig).unwrap(), di);
        }
    }

    #[test]
    fn key_sizes_agree_with_openssl_and_garbage_is_refused() {
        for bits in [1024u32, 1031, 2048, 3072] {
            let spki = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(bits).unwrap())
                .unwrap()
                .public_key_to_der()
                .unwrap();
            assert_eq!(public_key_bits(&spki).unwrap(), bits as usize);
        }
        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let ec_spki = openssl::pkey::PKey::from_ec_key(ec).unwrap().public_key_to_der().unwrap();
        assert_eq!(public_key_bits(&ec_spki), Err(RsaError::BadPublicKey));
        assert_eq!(public_key_bits(b"\x30\x03\x02\x01\x00"), Err(RsaError::BadPublicKey));
    }

    #[test]
    fn raw_input_up_to_245_bytes() {
        let key = test_key();
        assert_eq!(key.modulus_len(), 256);
        assert_eq!(public_key_bits(&key.public_key_der()).unwrap(), 2048);
        let md5_sha1 = [0x42u8; 36];
        let sig = key.sign_raw(&md5_sha1).unwrap();
        assert_eq!(recover(&key.public_key_der(), &sig).unwrap(), md5_sha1);
        assert!(key.sign_raw(&[1u8; 245]).is_ok());
        assert_eq!(key.sign_raw(&[1u8; 246]), Err(RsaError::InputTooLong { len: 246, max: 245 }));
    }

    #[test]
    fn pkcs8_round_trip_and_bad_keys() {
        let key = test_key();
        let again = RsaPrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
        assert_eq!(again.public_key_der(), key.public_key_der());
        assert_eq!(RsaPrivateKey::from_pkcs8_der(b"junk").unwrap_err(), RsaError::BadPrivateKey);
        assert!(format!("{key:?}").contains("REDACTED"));
        let sig = key.sign(HashAlg::Sha256, b"m").unwrap();
        assert_eq!(verify(&key.public_key_der(), HashAlg::Sha256, b"n", &sig), Err(RsaError::BadSignature));
        assert_eq!(verify(b"junk", HashAlg::Sha256, b"m", &sig), Err(RsaError::BadPublicKey));
    }
}
