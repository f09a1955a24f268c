//! The service's one configuration file (TOML), validated at start; every
//! error names the key to fix.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// `jlis.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTPS API address (card/phone certificates, revocation, operators).
    pub https_listen: SocketAddr,
    /// Plain HTTP address for relying parties (OCSP, CRLs).
    pub http_listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database: String,
    /// Directory of the JPKI CAs.
    pub ca_dir: PathBuf,
    /// File holding the passphrase that encrypts the CA keys at rest
    /// (PKCS#8 PBES2); without it the keys are stored in clear.
    #[serde(default)]
    pub ca_key_passphrase_file: Option<PathBuf>,
    /// The CA and OCSP responder keys in a PKCS#11 token instead of files
    /// (`[pkcs11]`: `module`, `token`, `pin_file`); labels `auth-ca`,
    /// `sign-ca`, `auth-ocsp`, `sign-ocsp`.
    #[serde(default)]
    pub pkcs11: Option<hsm::Pkcs11Config>,
    /// Server certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// Server key (PEM).
    pub tls_key: PathBuf,
    /// CA whose client certificates identify the SP-TSM (PEM).
    pub sp_tsm_ca: PathBuf,
    /// File holding the bearer token of the operator named `operator`.
    pub operator_token_file: PathBuf,
    /// More operators, each with a name, a role (`operator`, `auditor`)
    /// and a token file of their own ([`crate::operators`]).
    #[serde(default)]
    pub operators: Vec<crate::operators::OperatorEntry>,
    /// Dual control: revoking a card certificate for key compromise takes
    /// two different operators (the first approves, the second revokes).
    /// Needs at least two operators with the `operator` role.
    #[serde(default)]
    pub dual_control_key_compromise: bool,
    /// CRLs are regenerated at least this often.
    #[serde(default = "default_interval")]
    pub crl_interval_secs: u64,
    /// The audit log's signing key (Ed25519, PKCS#8; made at first start,
    /// its public key beside it as `<file>.pub`). Keep it outside the
    /// database's reach.
    #[serde(default = "default_audit_key")]
    pub audit_key_file: PathBuf,
    /// Where the latest signed checkpoint of the audit log is written,
    /// outside the database (copy it off-site to anchor the log there too).
    #[serde(default = "default_audit_checkpoint")]
    pub audit_checkpoint_file: PathBuf,
    /// How often the audit log's head is signed, when it moved.
    #[serde(default = "default_audit_checkpoint_secs")]
    pub audit_checkpoint_secs: u64,
    /// Device trust (`[device_trust]`, docs/device-trust.md): a phone
    /// certificate is issued only with an affirming attestation result from
    /// the pinned verifier and the SE's attestation of the key, checked here.
    #[serde(default)]
    pub device_trust: Option<DeviceTrustConfig>,
}

/// `[device_trust]` of `jlis.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTrustConfig {
    /// The verifier's (SP-TSM's) attestation-result key (PEM `PUBLIC KEY`, P-256).
    pub verifier_public_key: PathBuf,
    /// The SE issuers' attestation roots (PEM or DER certificates).
    pub se_issuer_certificates: Vec<PathBuf>,
}

impl DeviceTrustConfig {
    /// The check these files describe.
    pub fn check(&self) -> Result<crate::device::DeviceTrust, String> {
        let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
        let pem = String::from_utf8(read(&self.verifier_public_key)?).unwrap_or_default();
        let verifier =
            attest::ec::spki_from_pem(&pem).map_err(|e| format!("{}: {e}", self.verifier_public_key.display()))?;
        let mut roots = Vec::new();
        for p in &self.se_issuer_certificates {
            let bytes = read(p)?;
            let der = match std::str::from_utf8(&bytes) {
                Ok(t) if t.contains("-----BEGIN") => {
                    der::pem::decode_vec(t.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))?.1
                }
                _ => bytes,
            };
            roots.push(der);
        }
        Ok(crate::device::DeviceTrust { verifier, se_issuer_roots: roots })
    }
}

fn default_interval() -> u64 {
    3600
}

fn default_audit_key() -> PathBuf {
    "audit.key".into()
}

fn default_audit_checkpoint() -> PathBuf {
    "audit.checkpoint".into()
}

fn default_audit_checkpoint_secs() -> u64 {
    2
}

/// The store `init` writes unless told otherwise: a SQLite file.
pub const DEFAULT_DATABASE: &str = "sqlite://jlis.sqlite";

impl Config {
    /// Reads and validates; relative paths are relative to the file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut c: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut c.ca_dir,
            &mut c.tls_certificate,
            &mut c.tls_key,
            &mut c.sp_tsm_ca,
            &mut c.operator_token_file,
            &mut c.audit_key_file,
            &mut c.audit_checkpoint_file,
        ]
        .into_iter()
        .chain(c.ca_key_passphrase_file.as_mut())
        .chain(c.pkcs11.as_mut().map(|k| &mut k.pin_file))
        .chain(c.operators.iter_mut().map(|o| &mut o.token_file))
        .chain(
            c.device_trust
                .iter_mut()
                .flat_map(|d| std::iter::once(&mut d.verifier_public_key).chain(d.se_issuer_certificates.iter_mut())),
        ) {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(rest) = c.database.strip_prefix("sqlite://") {
            if Path::new(rest).is_relative() {
                c.database = format!("sqlite://{}", base.join(rest).display());
            }
        }
        for (key, p) in [
            ("tls_certificate", &c.tls_certificate),
            ("tls_key", &c.tls_key),
            ("sp_tsm_ca", &c.sp_tsm_ca),
            ("operator_token_file", &c.operator_token_file),
        ] {
            if !p.is_file() {
                return Err(format!("{}: {key} = {} does not exist", path.display(), p.display()));
            }
        }
        if c.pkcs11.is_some() && c.ca_key_passphrase_file.is_some() {
            return Err(format!(
                "{}: the CA keys are in the PKCS#11 token ([pkcs11]) or in passphrase-encrypted files \
                 (ca_key_passphrase_file), not both",
                path.display()
            ));
        }
        if c.crl_interval_secs == 0 {
            return Err(format!("{}: crl_interval_secs must be at least 1", path.display()));
        }
        if c.audit_checkpoint_secs == 0 {
            return Err(format!("{}: audit_checkpoint_secs must be at least 1", path.display()));
        }
        Ok(c)
    }

    /// Opens the CAs, their keys encrypted with the passphrase file's content
    /// when one is configured; refuses when they are not there (only
    /// [`Config::init`] makes them).
    pub fn open_ca(&self) -> Result<pki::ca::LocalCa, crate::JlisError> {
        self.ca(false)
    }

    /// The CAs' key store, and the CAs in it: existing ones, or with
    /// `create` (only `--init`) new ones when there are none.
    fn ca(&self, create: bool) -> Result<pki::ca::LocalCa, crate::JlisError> {
        let cannot_run = |e: String| crate::JlisError::Service(e);
        if let Some(token) = &self.pkcs11 {
            let keys = hsm::Pkcs11KeyStore::open(token).map_err(|e| cannot_run(e.to_string()))?;
            let ca = match create {
                true => pki::ca::LocalCa::open_with(&self.ca_dir, &keys),
                false => pki::ca::LocalCa::open_existing_with(&self.ca_dir, &keys),
            };
            return ca.map_err(|e| cannot_run(e.to_string()));
        }
        let passphrase = match &self.ca_key_passphrase_file {
            Some(p) => {
                let text = zeroize::Zeroizing::new(
                    std::fs::read_to_string(p).map_err(|e| cannot_run(format!("{}: {e}", p.display())))?,
                );
                Some(zeroize::Zeroizing::new(text.trim().to_string()))
            }
            None => None,
        };
        let keys =
            pki::keystore::SoftwareKeyStore::new(&self.ca_dir, passphrase).map_err(|e| cannot_run(e.to_string()))?;
        let ca = match create {
            true => pki::ca::LocalCa::open_with(&self.ca_dir, &keys),
            false => pki::ca::LocalCa::open_existing_with(&self.ca_dir, &keys),
        };
        ca.map_err(|e| cannot_run(e.to_string()))
    }

    /// Writes a configuration, TLS material, an operator token and the CAs
    /// (keys sealed with a new passphrase) into `dir` (for `jpki serve jlis --init`); the store is
    /// `database` ([`DEFAULT_DATABASE`], a SQLite file beside the
    /// configuration, or `postgres://…`).
    pub fn init(dir: &Path, https_port: u16, http_port: u16, database: &str) -> Result<PathBuf, String> {
        Self::init_with(dir, https_port, http_port, database, None)
    }

    /// [`Config::init`], the CA keys generated in the PKCS#11 token `keys`
    /// when given (instead of passphrase-encrypted files).
    pub fn init_with(
        dir: &Path,
        https_port: u16,
        http_port: u16,
        database: &str,
        keys: Option<&hsm::Pkcs11Config>,
    ) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        svc::tls::generate(dir, &["sp-tsm", "sei-tsm"])?;
        let secrets: &[&str] = if keys.is_some() { &["operator.token"] } else { &["operator.token", "ca.passphrase"] };
        for file in secrets {
            let mut secret = zeroize::Zeroizing::new([0u8; 24]);
            pki::fill_random(&mut *secret);
            pki::fs::write_atomically(&dir.join(file), zeroize::Zeroizing::new(hex::encode(*secret)).as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let text = format!(
            "# The JPKI service (jpki serve jlis --config {0}).\n\
             https_listen = \"127.0.0.1:{https_port}\"\n\
             http_listen = \"127.0.0.1:{http_port}\"\n\
             database = \"{database}\"\n\
             ca_dir = \"ca\"\n\
             {keys}\
             tls_certificate = \"tls/jlis-server.pem\"\n\
             tls_key = \"tls/jlis-server.key\"\n\
             sp_tsm_ca = \"tls/sp-tsm-ca.pem\"\n\
             operator_token_file = \"operator.token\"\n\
             crl_interval_secs = 3600\n\
             audit_key_file = \"audit.key\"\n\
             audit_checkpoint_file = \"audit.checkpoint\"\n\
             audit_checkpoint_secs = 2\n",
            dir.join("jlis.toml").display(),
            keys = if keys.is_some() { "" } else { "ca_key_passphrase_file = \"ca.passphrase\"\n" },
        );
        // A table last: every key after it would belong to it.
        let text = match keys {
            None => text,
            Some(k) => format!(
                "{text}\n# The CA keys are in this PKCS#11 token (labels auth-ca, sign-ca, auth-ocsp, sign-ocsp).\n\
                 [pkcs11]\nmodule = {:?}\ntoken = {:?}\npin_file = {:?}\n",
                k.module.display().to_string(),
                k.token,
                k.pin_file.display().to_string()
            ),
        };
        let path = dir.join("jlis.toml");
        pki::fs::write_atomically(&path, text.as_bytes()).map_err(|e| e.to_string())?;
        // The CAs and their keys are made here, never at a start.
        Config::load(&path)?.ca(true).map_err(|e| e.to_string())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A start never makes a CA: with the CA files gone (a lost volume, a
    /// wrong path), opening the configured CAs fails and says how to go on,
    /// and nothing is written in their place.
    #[test]
    fn a_start_without_the_ca_files_is_refused_and_makes_no_ca() {
        let dir = tempfile::tempdir().unwrap();
        let path = Config::init(dir.path(), 0, 0, DEFAULT_DATABASE).unwrap();
        let config = Config::load(&path).unwrap();
        config.open_ca().expect("--init made the CAs");

        std::fs::remove_file(config.ca_dir.join("auth-ca.pem")).unwrap();
        let Err(err) = config.open_ca() else { panic!("a missing CA is refused") };
        let err = err.to_string();
        assert!(err.contains("auth-ca.pem does not exist") && err.contains("--init"), "{err}");
        assert!(!config.ca_dir.join("auth-ca.pem").exists(), "no CA was made in its place");

        let empty = Config { ca_dir: dir.path().join("elsewhere"), ..config };
        let Err(err) = empty.open_ca() else { panic!("an empty CA directory is refused") };
        let err = err.to_string();
        assert!(err.contains("does not exist"), "{err}");
        assert!(!empty.ca_dir.join("auth-ca.pem").exists());
    }
}
