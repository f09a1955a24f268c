//! The RSSP's own certification authority, "openjpki Remote Signing CA"
//! (decision: docs/rssp.md §CA). The signers' certificates are not JPKI
//! certificates — J-LIS certifies only keys on cards and in phones' SEs —
//! so the RSSP runs a CA of its own, beside the SAM and not in it: its key
//! lives in a key store of its own (files or the PKCS#11 token, label
//! `rssp-ca`), never in the signers' crypto module. It certifies a key
//! only from a PKCS#10 request whose signature verifies and whose key is
//! the one the SAM recorded for the credential (JT2A II 3.1.1.4); the
//! subject is the holder's name as the card's signature certificate
//! states it, never what a caller typed (2.1.3.2).

use crate::csr;
use const_oid::db::rfc4519;
use const_oid::AssociatedOid;
use der::{Decode, Encode};
use pki::cert::{raw_extension, sign_tbs, x509_time};
use pki::keystore::{KeyStore, Signer};
use pki::profile::{key_identifier, random_serial};
use pki::Certificate;
use spki::SubjectPublicKeyInfoOwned;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::name::Name;
use x509_cert::time::Validity;

/// The CA key's label in its key store.
pub const KEY_LABEL: &str = "rssp-ca";
/// The CA certificate's file in the CA directory.
pub const CERT_FILE: &str = "rssp-ca.pem";
/// The CA's validity.
const CA_YEARS: u64 = 20;

/// The CA: its certificate and its key.
pub struct RsspCa {
    cert: Certificate,
    key: Arc<dyn Signer>,
}

impl std::fmt::Debug for RsspCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsspCa").field("subject", &pki::chain::subject(&self.cert)).finish_non_exhaustive()
    }
}

/// The CA's name.
pub fn dn() -> Name {
    pki::names::name(&[(rfc4519::C, "JP"), (rfc4519::O, "openjpki"), (rfc4519::CN, "openjpki Remote Signing CA")])
}

impl RsspCa {
    /// Opens the CA in `dir` with its key from `keys`; makes both at first use.
    pub fn open_or_create(dir: &Path, keys: &dyn KeyStore) -> Result<Self, String> {
        let path = dir.join(CERT_FILE);
        let key = match keys.open(KEY_LABEL).map_err(|e| e.to_string())? {
            Some(k) => k,
            None if path.exists() => {
                return Err(format!("{} exists but its key {KEY_LABEL:?} is not in the key store", path.display()))
            }
            None => keys.generate(KEY_LABEL).map_err(|e| e.to_string())?,
        };
        let cert = match std::fs::read(&path) {
            Ok(pem) => pki::cert::parse_certificates(&pem).map_err(|e| format!("{}: {e}", path.display()))?.remove(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let cert = self_signed(&*key).map_err(|e| format!("making the CA certificate: {e}"))?;
                let pem = pki::cert::to_pem(&cert).map_err(|e| e.to_string())?;
                pki::fs::write_atomically(&path, pem.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
                cert
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if cert.tbs_certificate.subject_public_key_info.to_der().ok() != Some(key.public_key_der()) {
            return Err(format!("{} does not belong to the key {KEY_LABEL:?}", path.display()));
        }
        Ok(Self { cert, key })
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// Certifies the key of `csr` (DER) for `holder_name` until `not_after`,
    /// if the request verifies and its key is `expected_public_key`.
    pub fn certify(
        &self,
        csr_der: &[u8],
        expected_public_key: &[u8],
        holder_name: &str,
        not_after: SystemTime,
    ) -> Result<Certificate, String> {
        let request = csr::verify(csr_der)?;
        if request.public_key_der != expected_public_key {
            return Err("the request's key is not the key the SAM generated for this credential".into());
        }
        let now = SystemTime::now();
        let not_after = not_after.min(now + Duration::from_secs(CA_YEARS * 365 * 86_400));
        let spki = SubjectPublicKeyInfoOwned::from_der(&request.public_key_der).map_err(|e| e.to_string())?;
        let ca_spki = &self.cert.tbs_certificate.subject_public_key_info;
        let e = |e: pki::cert::CertError| e.to_string();
        let extensions = vec![
            raw_extension(KeyUsage::OID, true, &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation))
                .map_err(e)?,
            raw_extension(
                AuthorityKeyIdentifier::OID,
                false,
                &AuthorityKeyIdentifier {
                    key_identifier: Some(key_identifier(ca_spki)),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
            )
            .map_err(e)?,
            raw_extension(SubjectKeyIdentifier::OID, false, &SubjectKeyIdentifier(key_identifier(&spki))).map_err(e)?,
        ];
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: random_serial(),
            signature: pki::cert::rsa_signature_algorithm(pki::HashAlg::Sha256),
            issuer: self.cert.tbs_certificate.subject.clone(),
            validity: Validity {
                not_before: x509_time(now - Duration::from_secs(60)).map_err(e)?,
                not_after: x509_time(not_after).map_err(e)?,
            },
            subject: pki::names::name(&[(rfc4519::C, "JP"), (rfc4519::CN, holder_name)]),
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        sign_tbs(tbs, &*self.key).map_err(e)
    }
}

fn self_signed(key: &dyn Signer) -> Result<Certificate, pki::cert::CertError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())?;
    let now = SystemTime::now();
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial(),
        signature: pki::cert::rsa_signature_algorithm(pki::HashAlg::Sha256),
        issuer: dn(),
        validity: Validity {
            not_before: x509_time(now - Duration::from_secs(3600))?,
            not_after: x509_time(now + Duration::from_secs(CA_YEARS * 365 * 86_400))?,
        },
        subject: dn(),
        subject_public_key_info: spki.clone(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![
            raw_extension(BasicConstraints::OID, true, &BasicConstraints { ca: true, path_len_constraint: Some(0) })?,
            raw_extension(KeyUsage::OID, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
            raw_extension(SubjectKeyIdentifier::OID, false, &SubjectKeyIdentifier(key_identifier(&spki)))?,
        ]),
    };
    sign_tbs(tbs, key)
}
