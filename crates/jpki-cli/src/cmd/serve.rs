//! `jpki serve ...` and `jpki audit ...`

use crate::cli::{AuditVerifyArgs, ServeAllArgs, ServeJlisArgs, ServeTsmArgs};
use crate::output;
use anyhow::{anyhow, bail, Context, Result};

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
    let config = sei_tsm::SeiConfig::load(&a.config).map_err(|e| anyhow!(e))?;
    eprintln!("SEI-TSM: https://{}", config.https_listen);
    runtime()?.block_on(sei_tsm::run(config)).map_err(|e| anyhow!(e))
}

/// `jpki serve sp-tsm`
pub fn sp_tsm(a: &ServeTsmArgs) -> Result<()> {
    let config = sp_tsm::SpConfig::load(&a.config)
        .map_err(|e| anyhow!("{e} (start the JPKI service once first: it creates the CA files)"))?;
    eprintln!("SP-TSM: https://{}", config.https_listen);
    runtime()?.block_on(sp_tsm::run(config)).map_err(|e| anyhow!(e))
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
            testbed::Deployment::create(&a.dir, &hash, 30).await
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
        eprintln!("TLS anchor    {}   (Ctrl-C to stop)", d.tls_ca.display());
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}

/// `jpki audit verify`
pub fn audit_verify(a: &AuditVerifyArgs, json: bool) -> Result<()> {
    let config = jlis::config::Config::load(&a.config).map_err(|e| anyhow!(e))?;
    if let Some(path) = config.database.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).is_file() {
            bail!("no database at {path}: is {} the configuration of a service that has run?", a.config.display());
        }
    }
    let public_key_file = a.public_key.clone().unwrap_or_else(|| jlis::audit::public_key_file(&config.audit_key_file));
    let public_key = jlis::audit::read_public_key(&public_key_file).map_err(|e| anyhow!(e))?;
    let anchor = match (&a.checkpoint, a.no_anchor) {
        (_, true) => None,
        (Some(file), false) => Some(jlis::audit::Checkpoint::read(file).map_err(|e| anyhow!(e))?),
        (None, false) => Some(jlis::audit::Checkpoint::read(&config.audit_checkpoint_file).map_err(|e| {
            anyhow!(
                "{e}; the service writes it every {} s while it runs (--no-anchor checks without it)",
                config.audit_checkpoint_secs
            )
        })?),
    };
    runtime()?.block_on(async {
        let store = store::Store::open(&config.database, jlis::schema::MIGRATIONS).await?;
        match jlis::audit::verify_with(&store, &public_key, anchor.as_ref()).await.map_err(|e| anyhow!("{e}"))? {
            Ok(v) => {
                if json {
                    output::json(&serde_json::json!({ "valid": true, "entries": v.entries, "checkpoints": v.checkpoints, "anchored_at": v.anchored_at }))
                } else {
                    let anchored = v.anchored_at.map_or("no anchor".to_string(), |s| format!("anchored at entry {s}"));
                    output::line(format_args!(
                        "Audit log intact: {} entries, hash chain and {} signed checkpoints verified, {anchored}.",
                        v.entries, v.checkpoints
                    ))
                }
            }
            Err(e) => Err(anyhow!("audit log damaged: {e}")),
        }
    })
}
