//! `jpki serve ...` and `jpki audit ...`

use crate::cli::{AuditVerifyArgs, ServeAllArgs, ServeJlisArgs, ServeTsmArgs};
use crate::output;
use anyhow::{anyhow, Context, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
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
    runtime()?.block_on(jlis::server::run(config)).map_err(|e| anyhow!("{e}"))
}

/// `jpki serve sei-tsm`
pub fn sei_tsm(a: &ServeTsmArgs) -> Result<()> {
    let config = tsm::service::config::SeiConfig::load(&a.config).map_err(|e| anyhow!(e))?;
    eprintln!("SEI-TSM: https://{}", config.https_listen);
    runtime()?.block_on(tsm::service::sei::run(config)).map_err(|e| anyhow!(e))
}

/// `jpki serve sp-tsm`
pub fn sp_tsm(a: &ServeTsmArgs) -> Result<()> {
    let config = tsm::service::config::SpConfig::load(&a.config)
        .map_err(|e| anyhow!("{e} (start the JPKI service once first: it creates the CA files)"))?;
    eprintln!("SP-TSM: https://{}", config.https_listen);
    runtime()?.block_on(tsm::service::sp::run(config)).map_err(|e| anyhow!(e))
}

/// The JPKI app identity `jpki phone` and `jpki demo phone` use.
pub fn default_app_hash() -> String {
    hex::encode_upper(pki::HashAlg::Sha256.digest(super::demo_phone::APP_CERTIFICATE))
}

/// `jpki serve all`; with `--json`, one line with the endpoints on
/// standard output once all three services answer (for scripts).
pub fn all(a: &ServeAllArgs, json: bool) -> Result<()> {
    runtime()?.block_on(async {
        let d = if a.init {
            std::fs::create_dir_all(&a.dir)?;
            let hash = a.app_certificate_sha256.clone().unwrap_or_else(default_app_hash);
            tsm::service::deployment::Deployment::create(&a.dir, &hash, 30).await
        } else {
            tsm::service::deployment::Deployment::open(&a.dir).await
        }
        .map_err(|e| anyhow!("{e} (make a deployment with --init)"))?;
        if json {
            output::json(&d.endpoints)?;
        }
        eprintln!("JPKI service  {}  (OCSP {})", d.jlis_url, d.ocsp_url);
        eprintln!("SEI-TSM       {}", d.sei_url);
        eprintln!("SP-TSM        {}", d.sp_url);
        eprintln!("TLS anchor    {}   (Ctrl-C to stop)", d.tls_ca.display());
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}

/// `jpki audit verify`
pub fn audit_verify(a: &AuditVerifyArgs, json: bool) -> Result<()> {
    let config = jlis::config::Config::load(&a.config).map_err(|e| anyhow!(e))?;
    runtime()?.block_on(async {
        let store = store::Store::open(&config.database, jlis::schema::MIGRATIONS).await?;
        match jlis::audit::verify(&store).await.map_err(|e| anyhow!("{e}"))? {
            Ok(n) => {
                if json {
                    output::json(&serde_json::json!({ "valid": true, "entries": n }))
                } else {
                    output::line(format_args!("Audit log intact: {n} entries, hash chain verified."))
                }
            }
            Err(e) => Err(anyhow!("audit log damaged: {e}")),
        }
    })
}
