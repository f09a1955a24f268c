//! The crypto module (CM, spec/csc-sam.md §5 SAM-02, JT2A II 3.1.1.3): the
//! signers' keys are generated inside it and never leave it; it also keeps
//! the key that MACs the SAM's records (3.1.1.1) and seals the signers'
//! TOTP seeds. Two backends behind [`CryptoModule`]:
//!
//! - [`SoftwareCm`]: each key a PKCS#8 file sealed with AES-256-GCM under
//!   a master key (a 0600 file; the label is the associated data, so a
//!   sealed key moved to another label does not open);
//! - [`Pkcs11Cm`]: a PKCS#11 token (SoftHSM2 in the tests): RSA keys made
//!   with `C_GenerateKeyPair` (sensitive, never extractable, sign only),
//!   records MAC'd with the token's AES-CMAC, seeds sealed with its
//!   AES-GCM, deletion by `C_DestroyObject`.
//!
//! Signing takes an [`Activation`], which only the SAM's verified-SAD path
//! (and its registration, for the key's own CSR) can make: no other code
//! path reaches a signer's key (SAM-07, JT2A II 2.2.1.2).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::hmac;
use pki::RsaPrivateKey;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Why the CM refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CmError {
    /// The CM holds no key with this label (never made, or destroyed).
    #[error("the crypto module holds no key {0:?}")]
    NoKey(String),
    /// The token or the key files failed.
    #[error("crypto module: {0}")]
    Failed(String),
}

/// Proof that the SAM verified a SAD (or is registering the key), the one
/// thing [`CryptoModule::sign`] accepts. Made only in `crate::sam`.
#[derive(Debug)]
pub struct Activation {
    pub(crate) _made_by_the_sam: (),
}

/// What the SAM needs of a crypto module.
pub trait CryptoModule: Send + Sync + std::fmt::Debug {
    /// `software` or `pkcs11`.
    fn kind(&self) -> &'static str;
    /// Generates an RSA-2048 key called `label` inside the module; returns
    /// its public key (DER `SubjectPublicKeyInfo`). Refuses an existing label.
    fn generate(&self, label: &str) -> Result<Vec<u8>, CmError>;
    /// The public key of `label`.
    fn public_key(&self, label: &str) -> Result<Vec<u8>, CmError>;
    /// RSASSA-PKCS1-v1_5 over `digest_info` with the key `label`.
    fn sign(&self, activation: &Activation, label: &str, digest_info: &[u8]) -> Result<Vec<u8>, CmError>;
    /// Destroys the key `label`; `false` if there was none.
    fn destroy(&self, label: &str) -> Result<bool, CmError>;
    /// The record MAC (integrity of the SAM's records).
    fn mac(&self, data: &[u8]) -> Result<Vec<u8>, CmError>;
    /// Seals `plain` (AEAD), bound to `aad`.
    fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CmError>;
    /// Opens what [`CryptoModule::seal`] sealed under the same `aad`;
    /// `None` if it does not open.
    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, CmError>;
}

fn failed(e: impl std::fmt::Display) -> CmError {
    CmError::Failed(e.to_string())
}

/// The label is a file name: letters, digits, `-` and `_` only.
fn check_label(label: &str) -> Result<(), CmError> {
    if label.is_empty() || label.len() > 64 || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CmError::Failed(format!("{label:?} is not a key label")));
    }
    Ok(())
}

/// Keys sealed in files under a master key (see the module comment).
pub struct SoftwareCm {
    dir: PathBuf,
    master: Zeroizing<[u8; 32]>,
    cache: Mutex<HashMap<String, Arc<RsaPrivateKey>>>,
}

impl std::fmt::Debug for SoftwareCm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareCm").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SoftwareCm {
    /// Opens the module in `dir`, making its master key at first use.
    pub fn open(dir: &Path) -> Result<Self, CmError> {
        std::fs::create_dir_all(dir.join("keys")).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        let path = dir.join("master.key");
        let master = match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let mut key = Zeroizing::new([0u8; 32]);
                if bytes.len() != 32 {
                    return Err(failed(format!("{}: not a 32-byte master key", path.display())));
                }
                key.copy_from_slice(&bytes);
                key
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                pki::fill_random(&mut key[..]);
                pki::fs::write_atomically(&path, &key[..]).map_err(|e| failed(format!("{}: {e}", path.display())))?;
                key
            }
            Err(e) => return Err(failed(format!("{}: {e}", path.display()))),
        };
        Ok(Self { dir: dir.to_path_buf(), master, cache: Mutex::new(HashMap::new()) })
    }

    fn subkey(&self, purpose: &[u8]) -> hmac::Tag {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.master[..]), purpose)
    }

    fn aead(&self, purpose: &[u8]) -> LessSafeKey {
        let key = self.subkey(purpose);
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_ref()).expect("32-byte key"))
    }

    fn key_path(&self, label: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{label}.sealed"))
    }

    fn key(&self, label: &str) -> Result<Arc<RsaPrivateKey>, CmError> {
        check_label(label)?;
        if let Some(k) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(label) {
            return Ok(k.clone());
        }
        let sealed = match std::fs::read(self.key_path(label)) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CmError::NoKey(label.into())),
            Err(e) => return Err(failed(e)),
        };
        let pkcs8 = self
            .open_with(b"key", label.as_bytes(), &sealed)?
            .ok_or_else(|| failed(format!("the sealed key {label:?} does not open: altered or moved")))?;
        let key = Arc::new(RsaPrivateKey::from_pkcs8_der(&pkcs8).map_err(failed)?);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(label.to_string(), key.clone());
        Ok(key)
    }

    fn seal_with(&self, purpose: &[u8], aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CmError> {
        let mut nonce = [0u8; 12];
        pki::fill_random(&mut nonce);
        let mut out = plain.to_vec();
        self.aead(purpose)
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out)
            .map_err(|_| failed("sealing"))?;
        Ok([nonce.as_slice(), &out].concat())
    }

    fn open_with(&self, purpose: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, CmError> {
        if sealed.len() < 12 + 16 {
            return Ok(None);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[..12]).map_err(|_| failed("nonce"))?;
        let mut buf = Zeroizing::new(sealed[12..].to_vec());
        match self.aead(purpose).open_in_place(nonce, Aad::from(aad), &mut buf) {
            Ok(plain) => Ok(Some(Zeroizing::new(plain.to_vec()))),
            Err(_) => Ok(None),
        }
    }
}

impl CryptoModule for SoftwareCm {
    fn kind(&self) -> &'static str {
        "software"
    }

    fn generate(&self, label: &str) -> Result<Vec<u8>, CmError> {
        check_label(label)?;
        let path = self.key_path(label);
        if path.exists() {
            return Err(failed(format!("the crypto module already holds a key {label:?}")));
        }
        let key = RsaPrivateKey::generate_2048().map_err(failed)?;
        let sealed = self.seal_with(b"key", label.as_bytes(), &key.to_pkcs8_der())?;
        pki::fs::write_atomically(&path, &sealed).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        let public = key.public_key_der();
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(label.to_string(), Arc::new(key));
        Ok(public)
    }

    fn public_key(&self, label: &str) -> Result<Vec<u8>, CmError> {
        Ok(self.key(label)?.public_key_der())
    }

    fn sign(&self, _: &Activation, label: &str, digest_info: &[u8]) -> Result<Vec<u8>, CmError> {
        self.key(label)?.sign_raw(digest_info).map_err(failed)
    }

    fn destroy(&self, label: &str) -> Result<bool, CmError> {
        check_label(label)?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(label);
        let path = self.key_path(label);
        match std::fs::metadata(&path) {
            Ok(meta) => {
                // Overwrite before unlinking: the sealed bytes are gone too.
                let _ = std::fs::write(&path, vec![0u8; meta.len() as usize]);
                std::fs::remove_file(&path).map_err(failed)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(failed(e)),
        }
    }

    fn mac(&self, data: &[u8]) -> Result<Vec<u8>, CmError> {
        let key = self.subkey(b"record-mac");
        Ok(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()), data).as_ref().to_vec())
    }

    fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CmError> {
        self.seal_with(b"seal", aad, plain)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, CmError> {
        self.open_with(b"seal", aad, sealed)
    }
}

/// Labels of the module's own keys in a token.
const MAC_KEY: &str = "rssp-record-mac";
const SEAL_KEY: &str = "rssp-seal";

/// The crypto module in a PKCS#11 token (see the module comment).
pub struct Pkcs11Cm {
    token: Arc<hsm::Token>,
    mac_key: hsm::AesKeyRef,
    seal_key: hsm::AesKeyRef,
    keys: Mutex<HashMap<String, Arc<hsm::RsaKey>>>,
}

impl std::fmt::Debug for Pkcs11Cm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Cm").field("token", &self.token).finish_non_exhaustive()
    }
}

impl Pkcs11Cm {
    /// Opens the token; makes the module's MAC and seal keys in it at first use.
    pub fn open(config: &hsm::Pkcs11Config) -> Result<Self, CmError> {
        let token = hsm::Token::open(config).map_err(failed)?;
        let aes = |label: &str| -> Result<hsm::AesKeyRef, CmError> {
            match token.aes_key(label).map_err(failed)? {
                Some(k) => Ok(k),
                None => token.generate_aes(label).map_err(failed),
            }
        };
        let (mac_key, seal_key) = (aes(MAC_KEY)?, aes(SEAL_KEY)?);
        Ok(Self { token, mac_key, seal_key, keys: Mutex::new(HashMap::new()) })
    }

    fn key(&self, label: &str) -> Result<Arc<hsm::RsaKey>, CmError> {
        check_label(label)?;
        if let Some(k) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(label) {
            return Ok(k.clone());
        }
        let key = Arc::new(self.token.rsa_key(label).map_err(failed)?.ok_or_else(|| CmError::NoKey(label.into()))?);
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert(label.to_string(), key.clone());
        Ok(key)
    }
}

impl CryptoModule for Pkcs11Cm {
    fn kind(&self) -> &'static str {
        "pkcs11"
    }

    fn generate(&self, label: &str) -> Result<Vec<u8>, CmError> {
        check_label(label)?;
        let key = self.token.generate_rsa(label).map_err(failed)?;
        let public = pki::keystore::Signer::public_key_der(&key);
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).insert(label.to_string(), Arc::new(key));
        Ok(public)
    }

    fn public_key(&self, label: &str) -> Result<Vec<u8>, CmError> {
        Ok(pki::keystore::Signer::public_key_der(&*self.key(label)?))
    }

    fn sign(&self, _: &Activation, label: &str, digest_info: &[u8]) -> Result<Vec<u8>, CmError> {
        self.key(label)?.sign_digest_info(digest_info).map_err(failed)
    }

    fn destroy(&self, label: &str) -> Result<bool, CmError> {
        check_label(label)?;
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).remove(label);
        self.token.destroy_rsa(label).map_err(failed)
    }

    fn mac(&self, data: &[u8]) -> Result<Vec<u8>, CmError> {
        Ok(self.mac_key.cmac(data).map_err(failed)?.to_vec())
    }

    fn seal(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, CmError> {
        let mut nonce = [0u8; 12];
        pki::fill_random(&mut nonce);
        Ok([nonce.as_slice(), &self.seal_key.gcm_seal(&nonce, aad, plain).map_err(failed)?].concat())
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, CmError> {
        if sealed.len() < 12 + 16 {
            return Ok(None);
        }
        let nonce: [u8; 12] = sealed[..12].try_into().expect("12 bytes");
        Ok(self.seal_key.gcm_open(&nonce, aad, &sealed[12..]).map_err(failed)?.map(Zeroizing::new))
    }
}
