//! Where CA private keys live. Certificates, CRLs and OCSP answers are signed
//! through the [`Signer`] trait, so a key held by a PKCS#11 HSM can take the
//! place of the software key without touching the profiles.
//!
//! [`SoftwareKeyStore`] keeps each key in a file `<label>.key.pem`. With a
//! passphrase the file is a PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958 §3,
//! PBES2 of RFC 8018 §6.2: PBKDF2-HMAC-SHA256, 600 000 iterations, random
//! salt; AES-256-CBC) that `openssl pkey -passin` also opens; without one it
//! is a plain `PRIVATE KEY` (the throw-away test CA of `jpki card new`).

use crate::rsa::{RsaError, RsaPrivateKey};
use crate::HashAlg;
use der::asn1::OctetStringRef;
use der::{Decode, Encode};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A private key that signs for a CA.
pub trait Signer: Send + Sync {
    /// The public key, DER `SubjectPublicKeyInfo`.
    fn public_key_der(&self) -> Vec<u8>;
    /// RSASSA-PKCS1-v1_5 over `msg` with `hash`.
    fn sign(&self, hash: HashAlg, msg: &[u8]) -> Result<Vec<u8>, RsaError>;
}

impl Signer for RsaPrivateKey {
    fn public_key_der(&self) -> Vec<u8> {
        RsaPrivateKey::public_key_der(self)
    }
    fn sign(&self, hash: HashAlg, msg: &[u8]) -> Result<Vec<u8>, RsaError> {
        RsaPrivateKey::sign(self, hash, msg)
    }
}

/// Why a key could not be loaded or stored.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// File-system error.
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
    /// The file is not a key this store understands.
    #[error("{path}: {why}", path = .0.display(), why = .1)]
    Damaged(PathBuf, String),
    /// The key is encrypted and no passphrase was given, or the wrong one.
    #[error("{path}: {why}", path = .0.display(), why = .1)]
    Passphrase(PathBuf, String),
    /// Key generation failed.
    #[error(transparent)]
    Rsa(#[from] RsaError),
}

/// A store of CA keys by label.
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// The key called `label`, if the store holds one.
    fn open(&self, label: &str) -> Result<Option<Arc<dyn Signer>>, KeyStoreError>;
    /// Generates and keeps a new RSA-2048 key called `label`.
    fn generate(&self, label: &str) -> Result<Arc<dyn Signer>, KeyStoreError>;
}

/// PBKDF2 iterations for new files (OWASP's figure for PBKDF2-HMAC-SHA256).
const PBKDF2_ITERATIONS: u32 = 600_000;
/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE: usize = 16;

/// Keys in PEM files of one directory, encrypted when a passphrase is set.
pub struct SoftwareKeyStore {
    dir: PathBuf,
    passphrase: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for SoftwareKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareKeyStore")
            .field("dir", &self.dir)
            .field("passphrase", &self.passphrase.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `EncryptedPrivateKeyInfo` (RFC 5958 §3).
#[derive(der::Sequence)]
struct EncryptedPrivateKeyInfo<'a> {
    encryption_algorithm: pkcs5::EncryptionScheme<'a>,
    encrypted_data: OctetStringRef<'a>,
}

impl SoftwareKeyStore {
    /// A store in `dir`; `passphrase` (at least [`MIN_PASSPHRASE`]
    /// characters) encrypts new keys and opens encrypted ones.
    pub fn new(dir: &Path, passphrase: Option<Zeroizing<String>>) -> Result<Self, KeyStoreError> {
        if let Some(p) = &passphrase {
            if p.chars().count() < MIN_PASSPHRASE {
                return Err(KeyStoreError::Passphrase(
                    dir.to_owned(),
                    format!("the CA key passphrase must be at least {MIN_PASSPHRASE} characters"),
                ));
            }
        }
        Ok(Self { dir: dir.to_owned(), passphrase })
    }

    /// The file of key `label`.
    pub fn path(&self, label: &str) -> PathBuf {
        self.dir.join(format!("{label}.key.pem"))
    }

    fn decode(&self, path: &Path, pem: &[u8]) -> Result<RsaPrivateKey, KeyStoreError> {
        let damaged = |why: String| KeyStoreError::Damaged(path.to_owned(), why);
        let (label, der) = der::pem::decode_vec(pem).map_err(|e| damaged(e.to_string()))?;
        let der = Zeroizing::new(der);
        let pkcs8 = match label {
            "PRIVATE KEY" => der,
            "ENCRYPTED PRIVATE KEY" => {
                let Some(pass) = &self.passphrase else {
                    return Err(KeyStoreError::Passphrase(
                        path.to_owned(),
                        "the key is encrypted: give the CA key passphrase".into(),
                    ));
                };
                let info = EncryptedPrivateKeyInfo::from_der(&der).map_err(|e| damaged(e.to_string()))?;
                decrypt(&info, pass.as_bytes()).ok_or_else(|| {
                    KeyStoreError::Passphrase(path.to_owned(), "wrong CA key passphrase (or a damaged file)".into())
                })?
            }
            other => return Err(damaged(format!("PEM label {other}, expected PRIVATE KEY"))),
        };
        RsaPrivateKey::from_pkcs8_der(&pkcs8).map_err(|e| damaged(e.to_string()))
    }

    fn encode(&self, key: &RsaPrivateKey) -> Result<Zeroizing<String>, KeyStoreError> {
        let pkcs8 = key.to_pkcs8_der();
        let failed = |e: der::Error| KeyStoreError::Damaged(self.dir.clone(), e.to_string());
        let (label, der) = match &self.passphrase {
            None => ("PRIVATE KEY", Zeroizing::new(pkcs8.to_vec())),
            Some(pass) => {
                let mut salt = [0u8; 16];
                let mut iv = [0u8; 16];
                crate::fill_random(&mut salt);
                crate::fill_random(&mut iv);
                let params = pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
                    .map_err(|e| KeyStoreError::Damaged(self.dir.clone(), e.to_string()))?;
                let mut data = pkcs8.to_vec();
                let key = derive_key(pass.as_bytes(), &salt, PBKDF2_ITERATIONS);
                aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_256, key.as_ref())
                    .and_then(aws_lc_rs::cipher::PaddedBlockEncryptingKey::cbc_pkcs7)
                    .and_then(|k| {
                        k.less_safe_encrypt(&mut data, aws_lc_rs::cipher::EncryptionContext::Iv128(iv.into()))
                    })
                    .map_err(|_| KeyStoreError::Damaged(self.dir.clone(), "AES-256-CBC failed".into()))?;
                let info = EncryptedPrivateKeyInfo {
                    encryption_algorithm: pkcs5::EncryptionScheme::Pbes2(params),
                    encrypted_data: OctetStringRef::new(&data).map_err(failed)?,
                };
                ("ENCRYPTED PRIVATE KEY", Zeroizing::new(info.to_der().map_err(failed)?))
            }
        };
        let pem = der::pem::encode_string(label, der::pem::LineEnding::LF, &der)
            .map_err(|e| KeyStoreError::Damaged(self.dir.clone(), e.to_string()))?;
        Ok(Zeroizing::new(pem))
    }
}

fn derive_key(pass: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    let iterations = NonZeroU32::new(iterations).unwrap_or(NonZeroU32::MIN);
    aws_lc_rs::pbkdf2::derive(aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, pass, key.as_mut());
    key
}

/// Opens PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC); anything else, a wrong
/// passphrase or bad padding gives `None`.
fn decrypt(info: &EncryptedPrivateKeyInfo<'_>, pass: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let params = info.encryption_algorithm.pbes2()?;
    let kdf = params.kdf.pbkdf2()?;
    if kdf.prf != pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256 || kdf.iteration_count < 1000 {
        return None;
    }
    let pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv } = params.encryption else { return None };
    let key = derive_key(pass, kdf.salt, kdf.iteration_count);
    let mut data = Zeroizing::new(info.encrypted_data.as_bytes().to_vec());
    let unbound = aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_256, key.as_ref()).ok()?;
    let cipher = aws_lc_rs::cipher::PaddedBlockDecryptingKey::cbc_pkcs7(unbound).ok()?;
    let plain = cipher.decrypt(&mut data, aws_lc_rs::cipher::DecryptionContext::Iv128((*iv).into())).ok()?;
    Some(Zeroizing::new(plain.to_vec()))
}

impl KeyStore for SoftwareKeyStore {
    fn open(&self, label: &str) -> Result<Option<Arc<dyn Signer>>, KeyStoreError> {
        let path = self.path(label);
        let pem = match std::fs::read(&path) {
            Ok(p) => Zeroizing::new(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(KeyStoreError::Io(path, e)),
        };
        Ok(Some(Arc::new(self.decode(&path, &pem)?)))
    }

    fn generate(&self, label: &str) -> Result<Arc<dyn Signer>, KeyStoreError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| KeyStoreError::Io(self.dir.clone(), e))?;
        let key = RsaPrivateKey::generate_2048()?;
        let path = self.path(label);
        crate::fs::write_atomically(&path, self.encode(&key)?.as_bytes()).map_err(|e| KeyStoreError::Io(path, e))?;
        Ok(Arc::new(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Option<Zeroizing<String>> {
        Some(Zeroizing::new(s.into()))
    }

    #[test]
    fn encrypted_key_round_trips_and_needs_the_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let store = SoftwareKeyStore::new(dir.path(), pass("correct horse battery staple")).unwrap();
        assert!(store.open("auth-ca").unwrap().is_none());
        let key = store.generate("auth-ca").unwrap();
        let text = std::fs::read_to_string(store.path("auth-ca")).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{text}");
        let again = store.open("auth-ca").unwrap().unwrap();
        assert_eq!(again.public_key_der(), key.public_key_der());

        let wrong = SoftwareKeyStore::new(dir.path(), pass("not the right passphrase")).unwrap();
        assert!(matches!(wrong.open("auth-ca"), Err(KeyStoreError::Passphrase(..))));
        let none = SoftwareKeyStore::new(dir.path(), None).unwrap();
        assert!(matches!(none.open("auth-ca"), Err(KeyStoreError::Passphrase(..))));
    }

    #[test]
    fn short_passphrase_is_refused_and_debug_redacts() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SoftwareKeyStore::new(dir.path(), pass("short")).is_err());
        let store = SoftwareKeyStore::new(dir.path(), pass("a long enough passphrase")).unwrap();
        let shown = format!("{store:?}");
        assert!(shown.contains("<redacted>") && !shown.contains("long enough"), "{shown}");
    }

    #[test]
    fn openssl_opens_the_encrypted_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SoftwareKeyStore::new(dir.path(), pass("openssl reads this too")).unwrap();
        let key = store.generate("sign-ca").unwrap();
        let pem = std::fs::read(store.path("sign-ca")).unwrap();
        let pkey = openssl::pkey::PKey::private_key_from_pem_passphrase(&pem, b"openssl reads this too").unwrap();
        assert_eq!(pkey.public_key_to_der().unwrap(), key.public_key_der());
        assert!(openssl::pkey::PKey::private_key_from_pem_passphrase(&pem, b"wrong passphrase here").is_err());
    }
}
