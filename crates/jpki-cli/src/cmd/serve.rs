//! `jpki serve ...` and `jpki audit ...`

use crate::cli::{AuditVerifyArgs, ServeJlisArgs};
use crate::output;
use anyhow::{anyhow, Context, Result};

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// `jpki serve jlis`
pub fn jlis(a: &ServeJlisArgs) -> Result<()> {
    if let Some(dir) = &a.init {
        let path = jlis::config::Config::init(dir, a.https_port, a.http_port).map_err(|e| anyhow!(e))?;
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
