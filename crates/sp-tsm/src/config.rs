//! `sp-tsm.toml`, validated at start; every error names the key to fix.
//! Relative paths are relative to the file.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tsm::config::{database, default_relay_timeout, read, resolve_files};

/// `sp-tsm.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    /// HTTPS address (phones, and the SEI-TSM handing over keys).
    pub https_listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database: String,
    /// Key (hex, 32 bytes) sealing the domain keys in the database.
    #[serde(default)]
    pub vault_key_file: Option<PathBuf>,
    /// The vault key in a PKCS#11 token (label `sp-vault`) instead of
    /// `vault_key_file` (`[pkcs11]`: `module`, `token`, `pin_file`); exactly
    /// one of the two.
    #[serde(default)]
    pub pkcs11: Option<hsm::Pkcs11Config>,
    /// Server certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// Server key (PEM).
    pub tls_key: PathBuf,
    /// CA of the SEI-TSM's client certificates (key hand-over).
    pub sei_tsm_client_ca: PathBuf,
    /// The JPKI service's HTTPS API (its OCSP responder at `/ocsp` too:
    /// the card's status is asked over the same authenticated channel).
    pub jlis_url: String,
    /// The TLS name the JPKI service's certificate must carry (pinned).
    #[serde(default = "default_jlis_server_name")]
    pub jlis_server_name: String,
    /// Only in files written before each service had its own TLS identity
    /// (the card's status was then asked over plain HTTP): such a file is
    /// refused with what to do, rather than started half-working.
    #[serde(default)]
    pub jlis_ocsp_url: Option<String>,
    /// The JPKI CA certificates (PEM or DER files): applications chain to
    /// the digital-signature CA, revocation requests to either.
    pub jpki_ca_certificates: Vec<PathBuf>,
    /// TLS trust anchor for the JPKI service (PEM).
    pub tls_ca: PathBuf,
    /// The SP-TSM's client certificate towards the JPKI service (PEM).
    pub client_certificate: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// SHA-256 (hex) of the JPKI app's signing certificate(s): the only
    /// apps whose applications are accepted and that the ARA-M lets in.
    pub app_certificate_sha256: Vec<String>,
    /// Seconds a flow waits for the phone's next response.
    #[serde(default = "default_relay_timeout")]
    pub relay_timeout_secs: u64,
    /// File holding the token that reads `GET /metrics` (Prometheus); without
    /// one, /metrics refuses everyone.
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
    /// Seconds an interrupted application may be resumed.
    #[serde(default = "default_resume_window")]
    pub resume_window_secs: u64,
    /// Device trust (`[device_trust]`, docs/device-trust.md): the SP-TSM
    /// appraises each application's device evidence and the SE's key
    /// attestations, and sends its attestation result to the JPKI service.
    /// Without it, phones are trusted as they declare themselves.
    #[serde(default)]
    pub device_trust: Option<DeviceTrustConfig>,
}

/// `[device_trust]`: the verifier's inputs and key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceTrustConfig {
    /// The appraisal policy (JSON, `attest::appraisal::Policy`).
    pub policy: PathBuf,
    /// The device-vendor metadata list (JSON, `attest::appraisal::Metadata`).
    pub metadata: PathBuf,
    /// The key attestation results are signed with (PKCS#8 PEM, P-256).
    pub verifier_key: PathBuf,
}

impl DeviceTrustConfig {
    /// The verifier these files describe.
    pub fn verifier(&self) -> Result<attest::appraisal::Verifier, String> {
        let json = |p: &Path| -> Result<String, String> {
            std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
        };
        let policy =
            serde_json::from_str(&json(&self.policy)?).map_err(|e| format!("{}: {e}", self.policy.display()))?;
        let metadata =
            serde_json::from_str(&json(&self.metadata)?).map_err(|e| format!("{}: {e}", self.metadata.display()))?;
        let key = attest::ec::EcKey::from_pkcs8_pem(&json(&self.verifier_key)?)
            .map_err(|e| format!("{}: {e}", self.verifier_key.display()))?;
        Ok(attest::appraisal::Verifier::new(policy, metadata, key, concat!("sp-tsm ", env!("CARGO_PKG_VERSION"))))
    }
}

fn default_jlis_server_name() -> String {
    svc::tls::Service::Jlis.server_name().into()
}

fn default_resume_window() -> u64 {
    600
}

impl SpConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let mut c: SpConfig = toml::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        if c.jlis_ocsp_url.is_some() {
            return Err(format!(
                "{}: jlis_ocsp_url is from a deployment made before each service had its own TLS identity \
                 (the card's status is now asked at jlis_url/ocsp over the pinned channel); make the deployment \
                 again with `jpki serve all --init --dir DIR`, or remove jlis_ocsp_url and give each service its \
                 own certificate (README)",
                path.display()
            ));
        }
        resolve_files(
            path,
            &mut [
                ("tls_certificate", &mut c.tls_certificate),
                ("tls_key", &mut c.tls_key),
                ("sei_tsm_client_ca", &mut c.sei_tsm_client_ca),
                ("tls_ca", &mut c.tls_ca),
                ("client_certificate", &mut c.client_certificate),
                ("client_key", &mut c.client_key),
            ],
        )?;
        tsm::config::one_key_source(path, "vault_key_file", c.vault_key_file.as_mut(), c.pkcs11.as_mut())?;
        if let Some(d) = c.device_trust.as_mut() {
            resolve_files(
                path,
                &mut [
                    ("device_trust.policy", &mut d.policy),
                    ("device_trust.metadata", &mut d.metadata),
                    ("device_trust.verifier_key", &mut d.verifier_key),
                ],
            )?;
        }
        if let Some(file) = c.metrics_token_file.as_mut() {
            resolve_files(path, &mut [("metrics_token_file", file)])?;
        }
        database(path.parent().unwrap_or(Path::new(".")), &mut c.database);
        for p in c.jpki_ca_certificates.iter_mut() {
            resolve_files(path, &mut [("jpki_ca_certificates", p)])?;
        }
        if c.app_certificate_sha256.is_empty()
            || c.app_certificate_sha256.iter().any(|h| h.len() != 64 || hex::decode(h).is_err())
        {
            return Err(format!(
                "{}: app_certificate_sha256 must list at least one SHA-256 in hex (64 digits)",
                path.display()
            ));
        }
        if c.relay_timeout_secs == 0 || c.resume_window_secs == 0 {
            return Err(format!("{}: relay_timeout_secs and resume_window_secs must be at least 1", path.display()));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 13): an sp-tsm.toml from before the per-service
    /// TLS identities would start and then fail every pinned call; it is
    /// refused at load, saying what to do.
    #[test]
    fn a_configuration_from_before_per_service_tls_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sp-tsm.toml");
        std::fs::write(
            &path,
            "https_listen = \"127.0.0.1:1\"\ndatabase = \"sqlite://sp.sqlite\"\nvault_key_file = \"v\"\n\
             tls_certificate = \"tls/server.pem\"\ntls_key = \"tls/server.key\"\nsei_tsm_client_ca = \"c\"\n\
             jlis_url = \"https://127.0.0.1:2\"\njlis_ocsp_url = \"http://127.0.0.1:3/ocsp\"\n\
             jpki_ca_certificates = []\ntls_ca = \"tls/ca.pem\"\nclient_certificate = \"a\"\nclient_key = \"b\"\n\
             app_certificate_sha256 = []\n",
        )
        .unwrap();
        let e = SpConfig::load(&path).unwrap_err();
        assert!(e.contains("jlis_ocsp_url") && e.contains("--init"), "{e}");
    }
}
