//! A local test JPKI hierarchy kept in a directory: the user-authentication
//! CA and the digital-signature CA, each a self-signed certificate and its
//! key. `jpki card new` creates it on first use and reuses it, so every card
//! made with the same directory chains to the same CAs.
//!
//! Files: `auth-ca.pem`, `sign-ca.pem`, and the keys `auth-ca.key.pem`,
//! `sign-ca.key.pem` in a [`KeyStore`] (mode 0600; encrypted when the store
//! has a passphrase, as the JPKI service's has).

use crate::cert::{parse_certificates, to_pem, CertError};
use crate::keystore::{KeyStore, KeyStoreError, Signer, SoftwareKeyStore};
use crate::names::{CaKind, Hierarchy};
use crate::profile::{ca_certificate, card_validity, issue_end_entity, EndEntity};
use crate::Holder;
use der::Encode;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;

/// Validity of a new CA: twenty years.
const CA_LIFETIME: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// One CA: certificate and key.
pub struct CaPair {
    /// The self-signed certificate.
    pub cert: Certificate,
    /// Its DER.
    pub cert_der: Vec<u8>,
    key: Arc<dyn Signer>,
    /// The CA's delegated OCSP responder.
    pub responder: Responder,
}

impl CaPair {
    /// The CA's private key.
    pub fn key(&self) -> &dyn Signer {
        &*self.key
    }
}

/// A CA's delegated OCSP responder ([`crate::responder`]): its certificate
/// (`{auth,sign}-ocsp.pem` beside the CA's) and its key (`{auth,sign}-ocsp`
/// in the CA's key store).
pub struct Responder {
    /// The responder certificate.
    pub cert: Certificate,
    /// Its DER (sent in every answer).
    pub cert_der: Vec<u8>,
    key: Arc<dyn Signer>,
}

impl Responder {
    /// The responder's private key.
    pub fn key(&self) -> &dyn Signer {
        &*self.key
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder").field("subject", &crate::chain::subject(&self.cert)).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for CaPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaPair").field("subject", &self.cert.tbs_certificate.subject.to_string()).finish()
    }
}

/// Why the CA directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// File-system error.
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
    /// A file in the directory is damaged.
    #[error("{path}: {why}", path = .0.display(), why = .1)]
    Damaged(PathBuf, String),
    /// Key generation failed.
    #[error(transparent)]
    Rsa(#[from] crate::RsaError),
    /// The key store refused.
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    /// Certificate building failed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// A service's CA is not there: a service never makes one at start.
    #[error("{path} does not exist: the CA keys are made only by `--init` (or restored from backup)", path = .0.display())]
    Missing(PathBuf),
}

/// The local test hierarchy.
#[derive(Debug)]
pub struct LocalCa {
    dir: PathBuf,
    auth: CaPair,
    sign: CaPair,
}

impl LocalCa {
    /// Opens the CA directory, creating the two CAs (test names, `O=JPKI-TEST`)
    /// if it holds none.
    /// Keys are kept unencrypted next to the certificates.
    pub fn open_or_create(dir: &Path) -> Result<Self, CaError> {
        Self::open_with(dir, &SoftwareKeyStore::new(dir, None)?)
    }

    /// Opens or creates the CAs with their keys in `keys`.
    pub fn open_with(dir: &Path, keys: &dyn KeyStore) -> Result<Self, CaError> {
        std::fs::create_dir_all(dir).map_err(|e| CaError::Io(dir.to_owned(), e))?;
        // Side by side: opening an encrypted key is a deliberately slow
        // PBKDF2 (600 000 iterations), and a restart waits for all four.
        let (auth, sign) = std::thread::scope(|s| {
            let auth = s.spawn(|| load_or_create(dir, keys, CaKind::Auth));
            let sign = load_or_create(dir, keys, CaKind::Sign);
            (auth.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)), sign)
        });
        Ok(Self { dir: dir.to_owned(), auth: auth?, sign: sign? })
    }

    /// Opens the CAs in `dir` with their keys in `keys`; a missing CA
    /// certificate or key is an error, never a new CA (a service that found
    /// its CA gone and made another would issue under a hierarchy nobody
    /// trusts).
    pub fn open_existing_with(dir: &Path, keys: &dyn KeyStore) -> Result<Self, CaError> {
        for kind in [CaKind::Auth, CaKind::Sign] {
            let cert_path = dir.join(format!("{}-ca.pem", kind.as_str()));
            if !cert_path.exists() {
                return Err(CaError::Missing(cert_path));
            }
        }
        Self::open_with(dir, keys)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// One of the two CAs.
    pub fn ca(&self, kind: CaKind) -> &CaPair {
        match kind {
            CaKind::Auth => &self.auth,
            CaKind::Sign => &self.sign,
        }
    }

    /// Path of a CA's certificate (PEM), for `openssl verify -CAfile`.
    pub fn cert_path(&self, kind: CaKind) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", kind.as_str()))
    }

    /// Issues a card certificate of `kind` for `public_key_der`, valid until
    /// the holder's fifth birthday after now.
    pub fn issue_card_certificate(
        &self,
        kind: CaKind,
        public_key_der: &[u8],
        holder: &Holder,
    ) -> Result<Certificate, CaError> {
        let (not_before, not_after) = card_validity(holder, SystemTime::now())?;
        let ca = self.ca(kind);
        let ee = EndEntity { kind, public_key_der, holder, not_before, not_after, hierarchy: Hierarchy::Test };
        Ok(issue_end_entity(&ca.cert, ca.key(), &ee)?)
    }
}

fn load_or_create(dir: &Path, keys: &dyn KeyStore, kind: CaKind) -> Result<CaPair, CaError> {
    let cert_path = dir.join(format!("{}-ca.pem", kind.as_str()));
    let label = format!("{}-ca", kind.as_str());
    if cert_path.exists() {
        let cert_bytes = std::fs::read(&cert_path).map_err(|e| CaError::Io(cert_path.clone(), e))?;
        let cert =
            parse_certificates(&cert_bytes).map_err(|e| CaError::Damaged(cert_path.clone(), e.to_string()))?.remove(0);
        let key = keys
            .open(&label)?
            .ok_or_else(|| CaError::Damaged(cert_path.clone(), format!("the key store holds no key {label}")))?;
        if crate::cert::public_key_der(&cert)? != key.public_key_der() {
            return Err(CaError::Damaged(cert_path, "the stored key does not match the certificate".into()));
        }
        let cert_der = cert.to_der().map_err(CertError::from)?;
        let responder = load_or_issue_responder(dir, keys, kind, &cert, &*key)?;
        return Ok(CaPair { cert, cert_der, key, responder });
    }
    let key = keys.generate(&label)?;
    let now = SystemTime::now();
    let cert = ca_certificate(kind, Hierarchy::Test, &*key, now - Duration::from_secs(3600), now + CA_LIFETIME)?;
    crate::fs::write_atomically(&cert_path, to_pem(&cert)?.as_bytes())
        .map_err(|e| CaError::Io(cert_path.clone(), e))?;
    let cert_der = cert.to_der().map_err(CertError::from)?;
    let responder = load_or_issue_responder(dir, keys, kind, &cert, &*key)?;
    Ok(CaPair { cert, cert_der, key, responder })
}

/// The CA's OCSP responder: the one on file while it is valid, issued by
/// this CA to the key in the store and not due for renewal; else a new
/// certificate for the responder key (made if the store has none).
fn load_or_issue_responder(
    dir: &Path,
    keys: &dyn KeyStore,
    kind: CaKind,
    ca: &Certificate,
    ca_key: &dyn Signer,
) -> Result<Responder, CaError> {
    let path = dir.join(format!("{}-ocsp.pem", kind.as_str()));
    let label = format!("{}-ocsp", kind.as_str());
    let key = match keys.open(&label)? {
        Some(key) => key,
        None => keys.generate(&label)?,
    };
    let now = SystemTime::now();
    if let Ok(bytes) = std::fs::read(&path) {
        let on_file = parse_certificates(&bytes).ok().and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)));
        if let Some(cert) = on_file {
            let same_key = crate::cert::public_key_der(&cert)? == key.public_key_der();
            if same_key && crate::responder::authorized(&cert, ca, now).is_ok() && !crate::responder::due(&cert, now) {
                let cert_der = cert.to_der().map_err(CertError::from)?;
                return Ok(Responder { cert, cert_der, key });
            }
        }
    }
    let cert = crate::responder::issue(ca, ca_key, &key.public_key_der(), now)?;
    crate::fs::write_atomically(&path, to_pem(&cert)?.as_bytes()).map_err(|e| CaError::Io(path.clone(), e))?;
    let cert_der = cert.to_der().map_err(CertError::from)?;
    Ok(Responder { cert, cert_der, key })
}
