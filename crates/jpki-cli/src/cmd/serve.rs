//! `jpki serve ...`: the services, one or all in this process.

use super::runtime;
use crate::output;
use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `jpki serve ...`
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// The JPKI service: HTTPS API (SP-TSM by client certificate, operators by
    /// token) and plain-HTTP OCSP and CRLs for relying parties.
    Jlis(ServeJlisArgs),
    /// The SEI-TSM: prepares phones' SEs (SP domain, JPKI applet, ARA-M rule)
    /// through the phone's relay and hands the domain keys to the SP-TSM.
    SeiTsm(ServeTsmArgs),
    /// The SP-TSM: nonces, card-signed applications, provisioning of the JPKI
    /// applet through the phone's relay, phone certificates from the JPKI
    /// service over mutual TLS, the holder's revocation.
    SpTsm(ServeTsmArgs),
    /// The remote signing service: the CSC API with a Signature Activation
    /// Module, signers registered with the My Number card.
    Rssp(ServeTsmArgs),
    /// The JPKI service, the SEI-TSM, the SP-TSM and the remote signing
    /// service together, from one directory (created with --init).
    All(ServeAllArgs),
}

/// `jpki serve sei-tsm|sp-tsm`
#[derive(Debug, Args)]
pub struct ServeTsmArgs {
    /// Configuration file (written by `jpki serve all --init DIR`).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
}

/// `jpki serve all`
#[derive(Debug, Args)]
pub struct ServeAllArgs {
    /// Deployment directory: jlis.toml, sei-tsm.toml, sp-tsm.toml, tls/, keys.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Write a new deployment into DIR first (free loopback ports, new CAs,
    /// keys and TLS material), then serve it.
    #[arg(long)]
    pub init: bool,
    /// SHA-256 (hex) of the JPKI app's signing certificate written by --init
    /// (default: the one `jpki phone` uses).
    #[arg(long, value_name = "HEX")]
    pub app_certificate_sha256: Option<String>,
    /// With --init: keep every service's keys (the CA and OCSP responder
    /// keys, the ISD master key, the SP-TSM's vault key) in a PKCS#11
    /// token of this module (e.g. /usr/lib/softhsm/libsofthsm2.so) instead
    /// of files. The token must exist (softhsm2-util --init-token).
    #[arg(long, value_name = "SO", requires_all = ["init", "pkcs11_token", "pkcs11_pin_file"])]
    pub pkcs11_module: Option<PathBuf>,
    /// The token's label.
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub pkcs11_token: Option<String>,
    /// File holding the token's user PIN.
    #[arg(long, value_name = "FILE", requires = "pkcs11_module")]
    pub pkcs11_pin_file: Option<PathBuf>,
}

/// `jpki serve jlis`
#[derive(Debug, Args)]
pub struct ServeJlisArgs {
    /// Configuration file (see `--init`).
    #[arg(long, value_name = "FILE", required_unless_present = "init")]
    pub config: Option<PathBuf>,
    /// Write a configuration, TLS material (server and SP-TSM client
    /// certificates) and an operator token into DIR, then exit.
    #[arg(long, value_name = "DIR")]
    pub init: Option<PathBuf>,
    /// HTTPS port written by --init.
    #[arg(long, default_value_t = 8443)]
    pub https_port: u16,
    /// HTTP (OCSP/CRL) port written by --init.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// Store written by --init: `sqlite://FILE` (relative to DIR) or
    /// `postgres://USER@HOST:PORT/DATABASE` (the database must exist).
    #[arg(long, value_name = "URL", default_value = jlis::config::DEFAULT_DATABASE)]
    pub db: String,
}

/// Runs `jpki serve …`.
pub fn run(command: ServeCommand, json: bool) -> Result<()> {
    match command {
        ServeCommand::Jlis(a) => jlis(&a),
        ServeCommand::SeiTsm(a) => sei_tsm(&a),
        ServeCommand::SpTsm(a) => sp_tsm(&a),
        ServeCommand::Rssp(a) => rssp(&a),
        ServeCommand::All(a) => all(&a, json),
    }
}

/// `jpki serve jlis`
pub fn jlis(a: &ServeJlisArgs) -> Result<()> {
    if let Some(dir) = &a.init {
        let path = jlis::config::Config::init(dir, a.https_port, a.http_port, &a.db).map_err(|e| anyhow!(e))?;
        println!(
            "Wrote {} (TLS material in {}, operator token in {}).",
            path.display(),
            dir.join("tls").display(),
            dir.join("operator.token").display()
        );
        println!("Start it: jpki serve jlis --config {}", path.display());
        return Ok(());
    }
    let path = a.config.as_ref().expect("clap requires --config");
    let config = jlis::config::Config::load(path).map_err(|e| anyhow!(e))?;
    eprintln!("JPKI service: API https://{}  OCSP/CRL http://{}", config.https_listen, config.http_listen);
    runtime()?.block_on(async { jlis::server::run(config, on_signals()?).await.map_err(|e| anyhow!("{e}")) })
}

/// `jpki serve sei-tsm`
pub fn sei_tsm(a: &ServeTsmArgs) -> Result<()> {
    let config = sei_tsm::SeiConfig::load(&a.config).map_err(|e| anyhow!(e))?;
    eprintln!("SEI-TSM: https://{}", config.https_listen);
    runtime()?.block_on(async { sei_tsm::run(config, on_signals()?).await.map_err(|e| anyhow!(e)) })
}

/// `jpki serve sp-tsm`
pub fn sp_tsm(a: &ServeTsmArgs) -> Result<()> {
    let config = sp_tsm::SpConfig::load(&a.config)
        .map_err(|e| anyhow!("{e} (start the JPKI service once first: it creates the CA files)"))?;
    eprintln!("SP-TSM: https://{}", config.https_listen);
    runtime()?.block_on(async { sp_tsm::run(config, on_signals()?).await.map_err(|e| anyhow!(e)) })
}

/// `jpki serve rssp`
pub fn rssp(a: &ServeTsmArgs) -> Result<()> {
    let config = rssp::config::Config::load(&a.config).map_err(|e| anyhow!(e))?;
    let cm = config.open_cm().map_err(|e| anyhow!(e))?;
    rssp::config::Config::verify_seal(&a.config, &*cm).map_err(|e| anyhow!(e))?;
    drop(cm);
    eprintln!("Remote signing service: https://{}/csc/v2/", config.https_listen);
    runtime()?.block_on(async { rssp::server::run(&a.config, on_signals()?).await.map_err(|e| anyhow!(e)) })
}

/// The JPKI app identity `jpki phone` and `jpki demo phone` use.
pub fn default_app_hash() -> String {
    hex::encode_upper(pki::HashAlg::Sha256.digest(crate::demo::phone::APP_CERTIFICATE))
}

/// `jpki serve all`; with `--json`, one line with the endpoints on
/// standard output once all three services answer (for scripts).
pub fn all(a: &ServeAllArgs, json: bool) -> Result<()> {
    runtime()?.block_on(async {
        let d = if a.init {
            std::fs::create_dir_all(&a.dir)?;
            let hash = a.app_certificate_sha256.clone().unwrap_or_else(default_app_hash);
            match (&a.pkcs11_module, &a.pkcs11_token, &a.pkcs11_pin_file) {
                (Some(module), Some(token), Some(pin_file)) => {
                    let keys = hsm::Pkcs11Config {
                        module: module.clone(),
                        token: token.clone(),
                        pin_file: std::path::absolute(pin_file)?,
                    };
                    testbed::Deployment::create_in_token(&a.dir, &hash, 30, keys).await
                }
                _ => testbed::Deployment::create(&a.dir, &hash, 30).await,
            }
        } else {
            testbed::Deployment::open(&a.dir).await
        }
        .map_err(|e| anyhow!("{e} (make a deployment with --init)"))?;
        if json {
            output::json(&d.endpoints)?;
        }
        eprintln!("JPKI service  {}  (OCSP {})", d.jlis_url, d.ocsp_url);
        eprintln!("SEI-TSM       {}", d.sei_url);
        eprintln!("SP-TSM        {}", d.sp_url);
        eprintln!("RSSP (CSC)    {}/csc/v2/", d.rssp_url);
        eprintln!("TLS anchor    {}   (Ctrl-C or SIGTERM to stop)", d.tls_ca.display());
        on_signals()?.requested().await;
        d.stop().await;
        eprintln!("Stopped: requests in flight answered, stores closed.");
        Ok(())
    })
}

/// A shutdown signal that SIGTERM and SIGINT give: the service stops
/// accepting, answers what is in flight and closes its store.
fn on_signals() -> Result<svc::server::Shutdown> {
    let shutdown = svc::server::Shutdown::new();
    shutdown.on_signals().context("listening for SIGTERM and SIGINT")?;
    Ok(shutdown)
}
