//! The files of a local deployment: ports, peers and stores ([`Layout`]),
//! and the two TSMs' configuration files written beside the JPKI
//! service's ([`init`]).

use std::path::{Path, PathBuf};

/// Ports and peers of a local deployment written by [`init`].
#[derive(Debug, Clone)]
pub struct Layout {
    /// SEI-TSM HTTPS port.
    pub sei_port: u16,
    /// SP-TSM HTTPS port.
    pub sp_port: u16,
    /// JPKI service HTTPS port.
    pub jlis_https_port: u16,
    /// JPKI service HTTP (OCSP) port.
    pub jlis_http_port: u16,
    /// SHA-256 (hex) of the JPKI app's signing certificate.
    pub app_certificate_sha256: String,
    /// Seconds a flow waits for a silent phone.
    pub relay_timeout_secs: u64,
    /// The three services' stores.
    pub databases: Databases,
    /// Where the SP-TSM reaches the JPKI service, when not at
    /// `jlis_https_port` directly (a network hop in between: a proxy, or
    /// an attack lab's interposer).
    pub sp_jlis_url: Option<String>,
}

/// Where each service of a deployment keeps its state: `sqlite://FILE`
/// (relative to the deployment directory) or `postgres://…` (an existing
/// database each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Databases {
    /// The JPKI service's.
    pub jlis: String,
    /// The SEI-TSM's.
    pub sei: String,
    /// The SP-TSM's.
    pub sp: String,
}

impl Default for Databases {
    /// One SQLite file per service in the deployment directory.
    fn default() -> Self {
        Self {
            jlis: jlis::config::DEFAULT_DATABASE.into(),
            sei: "sqlite://sei-tsm.sqlite".into(),
            sp: "sqlite://sp-tsm.sqlite".into(),
        }
    }
}

/// Writes `sei-tsm.toml` and `sp-tsm.toml` into `dir`, beside a JPKI
/// service's `jlis.toml` and `tls/` (from `jlis::config::Config::init`),
/// with new ISD master and vault keys. Returns the two paths.
pub fn init(dir: &Path, layout: &Layout) -> Result<(PathBuf, PathBuf), String> {
    tsm::keys::key_file(&dir.join("isd-master.key"), true)?;
    tsm::keys::key_file(&dir.join("sp-vault.key"), true)?;
    let sei = format!(
        "# The SEI-TSM (jpki serve sei-tsm --config sei-tsm.toml).\n\
         https_listen = \"127.0.0.1:{sei}\"\n\
         database = \"{db}\"\n\
         isd_master_key_file = \"isd-master.key\"\n\
         tls_certificate = \"tls/sei-tsm-server.pem\"\n\
         tls_key = \"tls/sei-tsm-server.key\"\n\
         sp_tsm_client_ca = \"tls/sp-tsm-ca.pem\"\n\
         sp_tsm_url = \"https://127.0.0.1:{sp}\"\n\
         tls_ca = \"tls/ca.pem\"\n\
         client_certificate = \"tls/sei-tsm.pem\"\n\
         client_key = \"tls/sei-tsm.key\"\n\
         relay_timeout_secs = {timeout}\n",
        sei = layout.sei_port,
        sp = layout.sp_port,
        timeout = layout.relay_timeout_secs,
        db = layout.databases.sei,
    );
    let sp = format!(
        "# The SP-TSM (jpki serve sp-tsm --config sp-tsm.toml).\n\
         https_listen = \"127.0.0.1:{sp}\"\n\
         database = \"{db}\"\n\
         vault_key_file = \"sp-vault.key\"\n\
         tls_certificate = \"tls/sp-tsm-server.pem\"\n\
         tls_key = \"tls/sp-tsm-server.key\"\n\
         sei_tsm_client_ca = \"tls/sei-tsm-ca.pem\"\n\
         jlis_url = \"{jlis_url}\"\n\
         jpki_ca_certificates = [\"ca/auth-ca.pem\", \"ca/sign-ca.pem\"]\n\
         tls_ca = \"tls/ca.pem\"\n\
         client_certificate = \"tls/sp-tsm.pem\"\n\
         client_key = \"tls/sp-tsm.key\"\n\
         app_certificate_sha256 = [\"{app}\"]\n\
         relay_timeout_secs = {timeout}\n\
         resume_window_secs = 600\n",
        sp = layout.sp_port,
        jlis_url =
            layout.sp_jlis_url.clone().unwrap_or_else(|| format!("https://127.0.0.1:{}", layout.jlis_https_port)),
        app = layout.app_certificate_sha256,
        timeout = layout.relay_timeout_secs,
        db = layout.databases.sp,
    );
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let p = dir.join(name);
        pki::fs::write_atomically(&p, text.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p)
    };
    Ok((write("sei-tsm.toml", &sei)?, write("sp-tsm.toml", &sp)?))
}
