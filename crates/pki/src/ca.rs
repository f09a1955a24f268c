//! A local test JPKI hierarchy kept in a directory: the user-authentication
//! CA and the digital-signature CA, each a self-signed certificate and its
//! key. `jpki card new` creates it on first use and reuses it, so every card
//! made with the same directory chains to the same CAs.
//!
//! Files: `auth-ca.pem`, `auth-ca.key.pem`, `sign-ca.pem`, `sign-ca.key.pem`
//! (keys as PKCS#8 PEM, mode 0600). The JPKI service (a later crate) keeps
//! its CA keys behind a key store instead.

use crate::cert::{parse_certificates, to_pem, CertError};
use crate::names::{CaKind, Hierarchy};
use crate::profile::{ca_certificate, card_validity, issue_end_entity, EndEntity};
use crate::{Holder, RsaPrivateKey};
use der::Encode;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;
use zeroize::Zeroizing;

/// Validity of a new CA: twenty years.
const CA_LIFETIME: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// One CA: certificate and key.
pub struct CaPair {
    /// The self-signed certificate.
    pub cert: Certificate,
    /// Its DER.
    pub cert_der: Vec<u8>,
    key: RsaPrivateKey,
}

impl CaPair {
    /// The CA's private key.
    pub fn key(&self) -> &RsaPrivateKey {
        &self.key
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
    /// Certificate building failed.
    #[error(transparent)]
    Cert(#[from] CertError),
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
    pub fn open_or_create(dir: &Path) -> Result<Self, CaError> {
        std::fs::create_dir_all(dir).map_err(|e| CaError::Io(dir.to_owned(), e))?;
        let auth = load_or_create(dir, CaKind::Auth)?;
        let sign = load_or_create(dir, CaKind::Sign)?;
        Ok(Self { dir: dir.to_owned(), auth, sign })
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
        Ok(issue_end_entity(&ca.cert, &ca.key, &ee)?)
    }
}

fn load_or_create(dir: &Path, kind: CaKind) -> Result<CaPair, CaError> {
    let cert_path = dir.join(format!("{}-ca.pem", kind.as_str()));
    let key_path = dir.join(format!("{}-ca.key.pem", kind.as_str()));
    if cert_path.exists() && key_path.exists() {
        let cert_bytes = std::fs::read(&cert_path).map_err(|e| CaError::Io(cert_path.clone(), e))?;
        let cert =
            parse_certificates(&cert_bytes).map_err(|e| CaError::Damaged(cert_path.clone(), e.to_string()))?.remove(0);
        let key_pem = Zeroizing::new(std::fs::read(&key_path).map_err(|e| CaError::Io(key_path.clone(), e))?);
        let (label, der) =
            der::pem::decode_vec(&key_pem).map_err(|e| CaError::Damaged(key_path.clone(), e.to_string()))?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(CaError::Damaged(key_path, format!("PEM label {label}, expected PRIVATE KEY")));
        }
        let key = RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| CaError::Damaged(key_path.clone(), e.to_string()))?;
        if crate::cert::public_key_der(&cert)? != key.public_key_der() {
            return Err(CaError::Damaged(key_path, "key does not match the certificate".into()));
        }
        let cert_der = cert.to_der().map_err(CertError::from)?;
        return Ok(CaPair { cert, cert_der, key });
    }
    let key = RsaPrivateKey::generate_2048()?;
    let now = SystemTime::now();
    let cert = ca_certificate(kind, Hierarchy::Test, &key, now - Duration::from_secs(3600), now + CA_LIFETIME)?;
    let key_pem = Zeroizing::new(
        der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &key.to_pkcs8_der())
            .map_err(|e| CaError::Damaged(key_path.clone(), e.to_string()))?,
    );
    crate::fs::write_atomically(&key_path, key_pem.as_bytes()).map_err(|e| CaError::Io(key_path.clone(), e))?;
    crate::fs::write_atomically(&cert_path, to_pem(&cert)?.as_bytes())
        .map_err(|e| CaError::Io(cert_path.clone(), e))?;
    let cert_der = cert.to_der().map_err(CertError::from)?;
    Ok(CaPair { cert, cert_der, key })
}
