//! `sei-tsm.toml`, validated at start; every error names the key to fix.
//! Relative paths are relative to the file.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tsm::config::{database, default_relay_timeout, read, resolve_files};

/// `sei-tsm.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeiConfig {
    /// HTTPS address (phones, and the SP-TSM registering its apps).
    pub https_listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub database: String,
    /// The ISD master key (hex): ISD keys are KDF3(master, SE identifier).
    #[serde(default)]
    pub isd_master_key_file: Option<PathBuf>,
    /// The ISD master key in a PKCS#11 token (label `isd-master`) instead
    /// of `isd_master_key_file` (`[pkcs11]`: `module`, `token`, `pin_file`);
    /// exactly one of the two.
    #[serde(default)]
    pub pkcs11: Option<hsm::Pkcs11Config>,
    /// Server certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// Server key (PEM).
    pub tls_key: PathBuf,
    /// CA of the SP-TSM's client certificates (app registration).
    pub sp_tsm_client_ca: PathBuf,
    /// The SP-TSM, which receives the domain keys.
    pub sp_tsm_url: String,
    /// The TLS name the SP-TSM's certificate must carry (pinned).
    #[serde(default = "default_sp_tsm_server_name")]
    pub sp_tsm_server_name: String,
    /// TLS trust anchor for the SP-TSM (PEM).
    pub tls_ca: PathBuf,
    /// The SEI-TSM's client certificate and key for the hand-over (PEM).
    pub client_certificate: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// Seconds a flow waits for the phone's next response.
    #[serde(default = "default_relay_timeout")]
    pub relay_timeout_secs: u64,
    /// File holding the token that reads `GET /metrics` (Prometheus); without
    /// one, /metrics refuses everyone.
    #[serde(default)]
    pub metrics_token_file: Option<PathBuf>,
}

fn default_sp_tsm_server_name() -> String {
    svc::tls::Service::SpTsm.server_name().into()
}

impl SeiConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let mut c: SeiConfig = toml::from_str(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        resolve_files(
            path,
            &mut [
                ("tls_certificate", &mut c.tls_certificate),
                ("tls_key", &mut c.tls_key),
                ("sp_tsm_client_ca", &mut c.sp_tsm_client_ca),
                ("tls_ca", &mut c.tls_ca),
                ("client_certificate", &mut c.client_certificate),
                ("client_key", &mut c.client_key),
            ],
        )?;
        tsm::config::one_key_source(path, "isd_master_key_file", c.isd_master_key_file.as_mut(), c.pkcs11.as_mut())?;
        if let Some(file) = c.metrics_token_file.as_mut() {
            resolve_files(path, &mut [("metrics_token_file", file)])?;
        }
        database(path.parent().unwrap_or(Path::new(".")), &mut c.database);
        if c.relay_timeout_secs == 0 {
            return Err(format!("{}: relay_timeout_secs must be at least 1", path.display()));
        }
        Ok(c)
    }
}
