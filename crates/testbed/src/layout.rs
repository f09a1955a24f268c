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
    /// The remote signing service's HTTPS port.
    pub rssp_port: u16,
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
    /// The services' keys in this PKCS#11 token (CA keys, ISD master key,
    /// vault key) instead of files.
    pub keys: Option<hsm::Pkcs11Config>,
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
    /// The remote signing service's.
    pub rssp: String,
}

impl Default for Databases {
    /// One SQLite file per service in the deployment directory.
    fn default() -> Self {
        Self {
            jlis: jlis::config::DEFAULT_DATABASE.into(),
            sei: "sqlite://sei-tsm.sqlite".into(),
            sp: "sqlite://sp-tsm.sqlite".into(),
            rssp: "sqlite://rssp.sqlite".into(),
        }
    }
}

/// Writes `sei-tsm.toml` and `sp-tsm.toml` into `dir`, beside a JPKI
/// service's `jlis.toml` and `tls/` (from `jlis::config::Config::init`),
/// with new ISD master and vault keys. Returns the two paths.
pub fn init(dir: &Path, layout: &Layout) -> Result<(PathBuf, PathBuf), String> {
    // The ISD master key's file is the SE manufacturer's copy (phones are
    // made with it); with a token, the SEI-TSM's copy is imported there and
    // the vault key is made for the token alone.
    let master = tsm::keys::key_file(&dir.join("isd-master.key"), true)?;
    // One token reads both TSMs' /metrics (Prometheus' bearer_token_file).
    let mut token = zeroize::Zeroizing::new([0u8; 24]);
    pki::fill_random(&mut token[..]);
    pki::fs::write_atomically(&dir.join("metrics.token"), hex::encode(*token).as_bytes()).map_err(|e| e.to_string())?;
    let (master_line, vault_line, table) = match &layout.keys {
        None => {
            tsm::keys::key_file(&dir.join("sp-vault.key"), true)?;
            ("isd_master_key_file = \"isd-master.key\"\n", "vault_key_file = \"sp-vault.key\"\n", String::new())
        }
        Some(k) => {
            let token = hsm::Token::open(k).map_err(|e| e.to_string())?;
            token.import_aes(sei_tsm::master::TOKEN_LABEL, master.expose()).map_err(|e| e.to_string())?;
            let mut vault = zeroize::Zeroizing::new([0u8; 32]);
            pki::fill_random(&mut vault[..]);
            token.import_aes(sp_tsm::vault::TOKEN_LABEL, &vault[..]).map_err(|e| e.to_string())?;
            let table = format!(
                "\n# Keys in this PKCS#11 token.\n[pkcs11]\nmodule = {:?}\ntoken = {:?}\npin_file = {:?}\n",
                k.module.display().to_string(),
                k.token,
                k.pin_file.display().to_string()
            );
            ("", "", table)
        }
    };
    let sei = format!(
        "# The SEI-TSM (jpki serve sei-tsm --config sei-tsm.toml).\n\
         https_listen = \"127.0.0.1:{sei}\"\n\
         database = \"{db}\"\n\
         {master_line}\
         tls_certificate = \"tls/sei-tsm-server.pem\"\n\
         tls_key = \"tls/sei-tsm-server.key\"\n\
         sp_tsm_client_ca = \"tls/sp-tsm-ca.pem\"\n\
         sp_tsm_url = \"https://127.0.0.1:{sp}\"\n\
         tls_ca = \"tls/ca.pem\"\n\
         client_certificate = \"tls/sei-tsm.pem\"\n\
         client_key = \"tls/sei-tsm.key\"\n\
         relay_timeout_secs = {timeout}\n\
         metrics_token_file = \"metrics.token\"\n{table}",
        sei = layout.sei_port,
        sp = layout.sp_port,
        timeout = layout.relay_timeout_secs,
        db = layout.databases.sei,
    );
    let sp = format!(
        "# The SP-TSM (jpki serve sp-tsm --config sp-tsm.toml).\n\
         https_listen = \"127.0.0.1:{sp}\"\n\
         database = \"{db}\"\n\
         {vault_line}\
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
         resume_window_secs = 600\n\
         metrics_token_file = \"metrics.token\"\n{table}{device}",
        sp = layout.sp_port,
        jlis_url =
            layout.sp_jlis_url.clone().unwrap_or_else(|| format!("https://127.0.0.1:{}", layout.jlis_https_port)),
        app = layout.app_certificate_sha256,
        timeout = layout.relay_timeout_secs,
        db = layout.databases.sp,
        device = crate::devices::SP_TSM_TABLE,
    );
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let p = dir.join(name);
        pki::fs::write_atomically(&p, text.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p)
    };
    crate::devices::init(dir, &layout.app_certificate_sha256)?;
    let jlis_toml = dir.join("jlis.toml");
    let mut jlis = std::fs::read_to_string(&jlis_toml).map_err(|e| format!("{}: {e}", jlis_toml.display()))?;
    jlis.push_str(crate::devices::JLIS_TABLE);
    write("jlis.toml", &jlis)?;
    let paths = (write("sei-tsm.toml", &sei)?, write("sp-tsm.toml", &sp)?);
    init_rssp(dir, layout)?;
    Ok(paths)
}

/// Writes `rssp.toml` (the remote signing service), its administrator's
/// and auditor's tokens, and seals the configuration with its crypto
/// module (software in `rssp-cm/`, or the deployment's token).
pub fn init_rssp(dir: &Path, layout: &Layout) -> Result<PathBuf, String> {
    for file in ["rssp-admin.token", "rssp-auditor.token"] {
        let mut token = zeroize::Zeroizing::new([0u8; 24]);
        pki::fill_random(&mut token[..]);
        pki::fs::write_atomically(&dir.join(file), hex::encode(*token).as_bytes()).map_err(|e| e.to_string())?;
    }
    let (cm_line, cm_table) = match &layout.keys {
        None => ("cm_dir = \"rssp-cm\"\n".to_string(), String::new()),
        Some(k) => (
            String::new(),
            format!(
                "[pkcs11]\nmodule = {:?}\ntoken = {:?}\npin_file = {:?}\n",
                k.module.display().to_string(),
                k.token,
                k.pin_file.display().to_string()
            ),
        ),
    };
    let text = format!(
        "# The remote signing service (jpki serve rssp --config rssp.toml).\n\
         # Sealed: after a change, an administrator runs jpki rssp admin seal-config --config rssp.toml.\n\
         service_name = \"openjpki-rssp\"\n\
         https_listen = \"127.0.0.1:{port}\"\n\
         database = \"{db}\"\n\
         tls_certificate = \"tls/rssp-server.pem\"\n\
         tls_key = \"tls/rssp-server.key\"\n\
         tls_client_ca = \"tls/ca.pem\"\n\
         ca_dir = \"rssp-ca\"\n\
         jpki_sign_ca = \"ca/sign-ca.pem\"\n\
         jpki_auth_ca = \"ca/auth-ca.pem\"\n\
         jpki_ocsp_url = \"http://127.0.0.1:{ocsp}/ocsp\"\n\
         sad_lifetime_secs = 300\n\
         multisign = 10\n\
         max_failures = 5\n\
         audit_key_file = \"rssp-audit.key\"\n\
         audit_checkpoint_file = \"rssp-audit.checkpoint\"\n\
         {cm_line}\
         [[privileged]]\nname = \"admin\"\nrole = \"administrator\"\ntoken_file = \"rssp-admin.token\"\n\
         [[privileged]]\nname = \"auditor\"\nrole = \"auditor\"\ntoken_file = \"rssp-auditor.token\"\n\
         {cm_table}{device}",
        device = if dir.join("device-trust").is_dir() { crate::devices::RSSP_TABLE } else { "" },
        port = layout.rssp_port,
        db = layout.databases.rssp,
        ocsp = layout.jlis_http_port,
    );
    let path = dir.join("rssp.toml");
    pki::fs::write_atomically(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = rssp::config::Config::load(&path)?;
    rssp::config::Config::seal(&path, &*config.open_cm()?)?;
    // The RSSP CA's key and certificate, made here like the JPKI CAs'.
    config.open_ca()?;
    Ok(path)
}
