//! `rssp.toml`, validated at start; every error names the key to fix.
//!
//! The configuration is **sealed** (JT2A II 3.2.2.3): `<file>.seal` holds
//! the crypto module's record MAC over the file's bytes, written by
//! `jpki rssp admin seal-config` — which needs the CM (its master key or
//! its token's PIN), i.e. an administrator. The service refuses to start
//! when the file changed since it was sealed, so an edit by someone who
//! can write the file but not use the CM is detected, not obeyed.

use crate::cm::{CryptoModule, Pkcs11Cm, SoftwareCm};
use crate::privileged;
use crate::sam::Policy;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `rssp.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The RSSP's name: signed instructions must carry it.
    #[serde(default = "default_name")]
    pub service_name: String,
    /// HTTPS address of the CSC API and the RSSP's own routes.
    pub https_listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database: String,
    /// Server certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// Server key (PEM).
    pub tls_key: PathBuf,
    /// A CA for optional client certificates at the TLS layer (PEM).
    pub tls_client_ca: PathBuf,
    /// The software crypto module's directory (master key and sealed
    /// keys); unused with `[pkcs11]`.
    #[serde(default)]
    pub cm_dir: Option<PathBuf>,
    /// The crypto module in a PKCS#11 token instead (`module`, `token`, `pin_file`).
    #[serde(default)]
    pub pkcs11: Option<hsm::Pkcs11Config>,
    /// The RSSP CA's directory (its certificate; its key too unless `[pkcs11]`).
    pub ca_dir: PathBuf,
    /// The JPKI signature CA certificate (PEM or DER).
    pub jpki_sign_ca: PathBuf,
    /// The JPKI authentication CA certificate (PEM or DER).
    pub jpki_auth_ca: PathBuf,
    /// The JPKI service's OCSP responder.
    pub jpki_ocsp_url: String,
    /// Administrators and auditors.
    #[serde(default)]
    pub privileged: Vec<privileged::Entry>,
    /// A SAD's life in seconds (default 300).
    #[serde(default = "default_sad")]
    pub sad_lifetime_secs: u64,
    /// A bearer token's life in seconds (default 3600).
    #[serde(default = "default_token")]
    pub token_lifetime_secs: u64,
    /// `multisign`: most signatures per authorisation (default 10).
    #[serde(default = "default_multisign")]
    pub multisign: u32,
    /// Wrong factors before a credential locks (default 5).
    #[serde(default = "default_failures")]
    pub max_failures: i64,
    /// The audit log's signing key (Ed25519, made at first start).
    #[serde(default = "default_audit_key")]
    pub audit_key_file: PathBuf,
    /// Where the latest signed checkpoint is written.
    #[serde(default = "default_audit_checkpoint")]
    pub audit_checkpoint_file: PathBuf,
    /// How often the log's head is signed, when it moved.
    #[serde(default = "default_checkpoint_secs")]
    pub audit_checkpoint_secs: u64,
    /// Device trust (`[device_trust]`, docs/device-trust.md): the appraisal
    /// policy and device-vendor metadata the confirm factor's keys are
    /// checked against. Without it the confirm factor is not offered. Both
    /// files are under the configuration's seal.
    #[serde(default)]
    pub device_trust: Option<DeviceTrust>,
}

/// `[device_trust]` of `rssp.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTrust {
    /// The appraisal policy (JSON, `attest::appraisal::Policy`).
    pub policy: PathBuf,
    /// The device-vendor metadata list (JSON, `attest::appraisal::Metadata`).
    pub metadata: PathBuf,
}

fn default_name() -> String {
    "openjpki-rssp".into()
}
fn default_sad() -> u64 {
    300
}
fn default_token() -> u64 {
    3600
}
fn default_multisign() -> u32 {
    10
}
fn default_failures() -> i64 {
    5
}
fn default_audit_key() -> PathBuf {
    "rssp-audit.key".into()
}
fn default_audit_checkpoint() -> PathBuf {
    "rssp-audit.checkpoint".into()
}
fn default_checkpoint_secs() -> u64 {
    2
}

/// The seal's file: `<config>.seal`.
pub fn seal_path(config: &Path) -> PathBuf {
    let mut name = config.as_os_str().to_owned();
    name.push(".seal");
    name.into()
}

/// What the seal covers: the file's bytes and, with `[device_trust]`, the
/// policy's and metadata's (trust anchors too: an edited vendor list would
/// let any phone's key in).
fn seal_input(config_path: &Path, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut input = [b"openjpki-rssp-config/1\n".as_slice(), bytes].concat();
    if let Some(d) = Config::load(config_path)?.device_trust {
        for (name, file) in [("device_trust.policy", &d.policy), ("device_trust.metadata", &d.metadata)] {
            let content = std::fs::read(file).map_err(|e| format!("{name} {}: {e}", file.display()))?;
            input.extend_from_slice(format!("\n{name} {}\n", content.len()).as_bytes());
            input.extend_from_slice(&content);
        }
    }
    Ok(input)
}

impl Config {
    /// Reads and validates `path` (paths in it are relative to its directory).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut c: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [
            &mut c.tls_certificate,
            &mut c.tls_key,
            &mut c.tls_client_ca,
            &mut c.ca_dir,
            &mut c.jpki_sign_ca,
            &mut c.jpki_auth_ca,
            &mut c.audit_key_file,
            &mut c.audit_checkpoint_file,
        ] {
            fix(p);
        }
        if let Some(d) = c.cm_dir.as_mut() {
            fix(d);
        }
        for e in &mut c.privileged {
            fix(&mut e.token_file);
        }
        if let Some(p) = c.pkcs11.as_mut() {
            fix(&mut p.pin_file);
        }
        if let Some(d) = c.device_trust.as_mut() {
            fix(&mut d.policy);
            fix(&mut d.metadata);
        }
        if let Some(rest) = c.database.strip_prefix("sqlite://") {
            if Path::new(rest).is_relative() {
                c.database = format!("sqlite://{}", base.join(rest).display());
            }
        }
        match (&c.cm_dir, &c.pkcs11) {
            (Some(_), Some(_)) => return Err(format!("{}: set cm_dir or [pkcs11], not both", path.display())),
            (None, None) => return Err(format!("{}: set cm_dir (software crypto module) or [pkcs11]", path.display())),
            _ => {}
        }
        if c.multisign == 0 || c.multisign > crate::sam::MAX_HASHES as u32 {
            return Err(format!("{}: multisign must be 1 to {}", path.display(), crate::sam::MAX_HASHES));
        }
        if c.sad_lifetime_secs == 0 || c.sad_lifetime_secs > 3600 {
            return Err(format!("{}: sad_lifetime_secs must be 1 to 3600", path.display()));
        }
        if c.max_failures < 1 {
            return Err(format!("{}: max_failures must be at least 1", path.display()));
        }
        Ok(c)
    }

    /// The SAM's policy.
    pub fn policy(&self) -> Policy {
        Policy {
            service_name: self.service_name.clone(),
            sad_lifetime: self.sad_lifetime_secs,
            token_lifetime: self.token_lifetime_secs,
            multisign: self.multisign,
            max_failures: self.max_failures,
            ..Policy::default()
        }
    }

    /// The verifier of the confirm factor's keys, with `[device_trust]`.
    /// It signs no attestation results (the RSSP is a relying party), so its
    /// result key is a throwaway one.
    pub fn device_verifier(&self) -> Result<Option<attest::appraisal::Verifier>, String> {
        let Some(d) = &self.device_trust else { return Ok(None) };
        let json = |p: &Path| -> Result<String, String> {
            std::fs::read_to_string(p).map_err(|e| format!("device_trust {}: {e}", p.display()))
        };
        let policy = serde_json::from_str(&json(&d.policy)?).map_err(|e| format!("{}: {e}", d.policy.display()))?;
        let metadata =
            serde_json::from_str(&json(&d.metadata)?).map_err(|e| format!("{}: {e}", d.metadata.display()))?;
        let key = attest::ec::EcKey::generate();
        Ok(Some(attest::appraisal::Verifier::new(policy, metadata, key, concat!("rssp ", env!("CARGO_PKG_VERSION")))))
    }

    /// Opens the crypto module the configuration names.
    pub fn open_cm(&self) -> Result<Arc<dyn CryptoModule>, String> {
        match (&self.cm_dir, &self.pkcs11) {
            (Some(dir), None) => Ok(Arc::new(SoftwareCm::open(dir).map_err(|e| e.to_string())?)),
            (None, Some(p)) => Ok(Arc::new(Pkcs11Cm::open(p).map_err(|e| e.to_string())?)),
            _ => Err("set cm_dir or [pkcs11]".into()),
        }
    }

    /// Opens the RSSP CA (its key in the token with `[pkcs11]`, else in `ca_dir`).
    pub fn open_ca(&self) -> Result<crate::ca::RsspCa, String> {
        match &self.pkcs11 {
            Some(p) => {
                let keys = hsm::Pkcs11KeyStore::open(p).map_err(|e| e.to_string())?;
                crate::ca::RsspCa::open_or_create(&self.ca_dir, &keys)
            }
            None => {
                let keys = pki::keystore::SoftwareKeyStore::new(&self.ca_dir, None).map_err(|e| e.to_string())?;
                crate::ca::RsspCa::open_or_create(&self.ca_dir, &keys)
            }
        }
    }

    /// Writes `<config>.seal` (an administrator's act: it needs the CM).
    pub fn seal(config_path: &Path, cm: &dyn CryptoModule) -> Result<PathBuf, String> {
        let bytes = std::fs::read(config_path).map_err(|e| format!("{}: {e}", config_path.display()))?;
        let mac = cm.mac(&seal_input(config_path, &bytes)?).map_err(|e| e.to_string())?;
        let path = seal_path(config_path);
        pki::fs::write_atomically(&path, hex::encode(mac).as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Refuses a configuration changed since an administrator sealed it.
    pub fn verify_seal(config_path: &Path, cm: &dyn CryptoModule) -> Result<(), String> {
        let seal = seal_path(config_path);
        let stored = std::fs::read_to_string(&seal).map_err(|e| {
            format!(
                "{}: {e}; an administrator seals the configuration with `jpki rssp admin seal-config`",
                seal.display()
            )
        })?;
        let bytes = std::fs::read(config_path).map_err(|e| format!("{}: {e}", config_path.display()))?;
        let mac = cm.mac(&seal_input(config_path, &bytes)?).map_err(|e| e.to_string())?;
        match hex::decode(stored.trim()) {
            Ok(m) if secret::ct_eq(&m, &mac) => Ok(()),
            _ => Err(format!(
                "{} changed since an administrator sealed it ({}): not starting; review the change, then `jpki rssp admin seal-config`",
                config_path.display(),
                seal.display()
            )),
        }
    }

    /// Reads a certificate file (PEM or DER).
    pub fn read_certificate(path: &Path) -> Result<pki::Certificate, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        pki::cert::parse_certificates(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{}: no certificate", path.display()))
    }
}
