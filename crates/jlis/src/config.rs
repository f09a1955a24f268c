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
    /// Server certificate chain (PEM).
    pub tls_certificate: PathBuf,
    /// Server key (PEM).
    pub tls_key: PathBuf,
    /// CA whose client certificates identify the SP-TSM (PEM).
    pub sp_tsm_ca: PathBuf,
    /// File holding the operators' bearer token.
    pub operator_token_file: PathBuf,
    /// CRLs are regenerated at least this often.
    #[serde(default = "default_interval")]
    pub crl_interval_secs: u64,
}

fn default_interval() -> u64 {
    3600
}

impl Config {
    /// Reads and validates; relative paths are relative to the file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut c: Config = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut c.ca_dir, &mut c.tls_certificate, &mut c.tls_key, &mut c.sp_tsm_ca, &mut c.operator_token_file] {
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
        if c.crl_interval_secs == 0 {
            return Err(format!("{}: crl_interval_secs must be at least 1", path.display()));
        }
        Ok(c)
    }

    /// Writes a configuration, TLS material, an operator token and a CA
    /// directory into `dir` (for `jpki serve jlis --init`).
    pub fn init(dir: &Path, https_port: u16, http_port: u16) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        crate::tls::generate(dir)?;
        let mut token = [0u8; 24];
        pki::fill_random(&mut token);
        pki::fs::write_atomically(&dir.join("operator.token"), hex::encode(token).as_bytes())
            .map_err(|e| e.to_string())?;
        let text = format!(
            "# The JPKI service (jpki serve jlis --config {0}).\n\
             https_listen = \"127.0.0.1:{https_port}\"\n\
             http_listen = \"127.0.0.1:{http_port}\"\n\
             database = \"sqlite://jlis.sqlite\"\n\
             ca_dir = \"ca\"\n\
             tls_certificate = \"tls/server.pem\"\n\
             tls_key = \"tls/server.key\"\n\
             sp_tsm_ca = \"tls/sp-tsm-ca.pem\"\n\
             operator_token_file = \"operator.token\"\n\
             crl_interval_secs = 3600\n",
            dir.join("jlis.toml").display()
        );
        let path = dir.join("jlis.toml");
        pki::fs::write_atomically(&path, text.as_bytes()).map_err(|e| e.to_string())?;
        Ok(path)
    }
}
