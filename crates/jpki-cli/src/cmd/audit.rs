//! `jpki audit verify`: checks a service's hash-chained audit log.

use super::runtime;
use crate::output;
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `jpki audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log: its hash chain (an edited, inserted or deleted
    /// entry fails), every checkpoint the service signed of it, and the
    /// latest checkpoint kept outside the database (a cut tail or a
    /// rewritten log fails). Never creates a database.
    Verify(AuditVerifyArgs),
}

/// `jpki audit verify`
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// The service's configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The audit key's public key (hex); default: the configuration's
    /// `audit_key_file` with `.pub` appended.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// A checkpoint to anchor the check (an off-site copy); default: the
    /// configuration's `audit_checkpoint_file`.
    #[arg(long, value_name = "FILE", conflicts_with = "no_anchor")]
    pub checkpoint: Option<PathBuf>,
    /// Check without an anchor outside the database (a cut tail newer than
    /// the last stored checkpoint then goes unseen).
    #[arg(long)]
    pub no_anchor: bool,
}

/// Runs `jpki audit …`.
pub fn run(command: AuditCommand, json: bool) -> Result<()> {
    match command {
        AuditCommand::Verify(a) => verify(&a, json),
    }
}

/// `jpki audit verify`
fn verify(a: &AuditVerifyArgs, json: bool) -> Result<()> {
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
