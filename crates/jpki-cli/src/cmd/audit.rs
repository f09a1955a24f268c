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
    /// The service's configuration file (jlis.toml or rssp.toml).
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
    let config = AuditedService::load(&a.config)?;
    if let Some(path) = config.database.strip_prefix("sqlite://") {
        if !std::path::Path::new(path).is_file() {
            bail!("no database at {path}: is {} the configuration of a service that has run?", a.config.display());
        }
    }
    let public_key_file = a.public_key.clone().unwrap_or_else(|| audit_log::public_key_file(&config.audit_key_file));
    let public_key = audit_log::read_public_key(&public_key_file).map_err(|e| anyhow!(e))?;
    let anchor = match (&a.checkpoint, a.no_anchor) {
        (_, true) => None,
        (Some(file), false) => Some(audit_log::Checkpoint::read(file).map_err(|e| anyhow!(e))?),
        (None, false) => Some(audit_log::Checkpoint::read(&config.audit_checkpoint_file).map_err(|e| {
            anyhow!(
                "{e}; the service writes it every {} s while it runs (--no-anchor checks without it)",
                config.audit_checkpoint_secs
            )
        })?),
    };
    runtime()?.block_on(async {
        let store = store::Store::open(&config.database, config.migrations).await?;
        match audit_log::verify_with(&store, &public_key, anchor.as_ref()).await.map_err(|e| anyhow!("{e}"))? {
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

/// What `jpki audit verify` needs of a service's configuration: the JPKI
/// service's or the remote signing service's, whichever the file is.
struct AuditedService {
    database: String,
    migrations: &'static [store::Migration],
    audit_key_file: PathBuf,
    audit_checkpoint_file: PathBuf,
    audit_checkpoint_secs: u64,
}

impl AuditedService {
    fn load(path: &std::path::Path) -> Result<Self> {
        match jlis::config::Config::load(path) {
            Ok(c) => Ok(Self {
                database: c.database,
                migrations: jlis::schema::MIGRATIONS,
                audit_key_file: c.audit_key_file,
                audit_checkpoint_file: c.audit_checkpoint_file,
                audit_checkpoint_secs: c.audit_checkpoint_secs,
            }),
            Err(jlis_error) => match rssp::config::Config::load(path) {
                Ok(c) => Ok(Self {
                    database: c.database,
                    migrations: rssp::schema::MIGRATIONS,
                    audit_key_file: c.audit_key_file,
                    audit_checkpoint_file: c.audit_checkpoint_file,
                    audit_checkpoint_secs: c.audit_checkpoint_secs,
                }),
                Err(_) => Err(anyhow!("{jlis_error} (nor is it a remote signing service's rssp.toml)")),
            },
        }
    }
}
