//! `jpki se ...`

use crate::output;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use gp::AesKey;
use serde::Serialize;
use std::path::Path;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// `jpki se ...`
#[derive(Debug, Subcommand)]
pub enum SeCommand {
    /// Make a new secure element: an ISD whose SCP03 keys are diversified
    /// (KDF3) from the master key with the SE identifier, and an empty ARA-M.
    New(SeNewArgs),
    /// Print an SE's identifier and its ISD static keys, as the SEI-TSM
    /// derives them from the master key (for an operator or a GP host tool).
    Keys(SeKeysArgs),
    /// Serve the SE's contact interface (ISD, SSDs, ARA-M) to pcscd through
    /// vsmartcard's vpcd driver, so GlobalPlatform host tools can manage it.
    Serve(SeServeArgs),
}

/// `jpki se new`
#[derive(Debug, Args)]
pub struct SeNewArgs {
    /// SE file to write.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// The SEI-TSM's master key: hex (16, 24 or 32 bytes) on the first line.
    /// Created with a fresh random AES-256 key (mode 0600) if it does not
    /// exist. Default: $XDG_DATA_HOME/openjpki/sei-tsm-master.key.
    #[arg(long, env = "JPKI_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Overwrite an existing SE file.
    #[arg(long)]
    pub force: bool,
}

/// `jpki se keys`
#[derive(Debug, Args)]
pub struct SeKeysArgs {
    /// SE file.
    #[arg(long, value_name = "FILE")]
    pub se: PathBuf,
    /// The master key file.
    #[arg(long, value_name = "FILE")]
    pub master_key_file: PathBuf,
}

/// `jpki se serve`
#[derive(Debug, Args)]
pub struct SeServeArgs {
    /// SE file to serve; every state change is written back to it.
    #[arg(long, value_name = "FILE")]
    pub se: PathBuf,
    /// Address of pcscd's vpcd driver.
    #[arg(long, default_value = "127.0.0.1:35963", value_name = "HOST:PORT")]
    pub vpcd: String,
    /// Serve one connection and exit instead of reconnecting.
    #[arg(long)]
    pub once: bool,
}

/// Runs `jpki se …`.
pub fn run(command: SeCommand, json: bool) -> Result<()> {
    match command {
        SeCommand::New(a) => new(&a, json),
        SeCommand::Keys(a) => keys(&a, json),
        SeCommand::Serve(a) => serve(&a),
    }
}

/// `$XDG_DATA_HOME/openjpki/sei-tsm-master.key` (or under ~/.local/share).
pub fn default_master_key_file() -> std::path::PathBuf {
    super::card::default_ca_dir()
        .parent()
        .map(|p| p.join("sei-tsm-master.key"))
        .unwrap_or_else(|| "sei-tsm-master.key".into())
}

/// Reads the master key file (hex on the first line), or creates it with a
/// random AES-256 key when `create` is set and it does not exist.
pub fn master_key(path: &Path, create: bool) -> Result<AesKey> {
    if create && !path.exists() {
        let mut key = Zeroizing::new([0u8; 32]);
        pki::fill_random(&mut key[..]);
        let text = Zeroizing::new(format!("{}\n", hex::encode(&key[..])));
        pki::fs::write_atomically(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "Created a new AES-256 master key in {} (keep it secret: it opens every SE made with it)",
            path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading master key {}", path.display()))?,
    );
    let line = text.lines().next().unwrap_or("").trim();
    let bytes = Zeroizing::new(hex::decode(line).context("the master key file must hold hex on its first line")?);
    AesKey::new(&bytes).map_err(|e| anyhow::anyhow!("master key: {e}"))
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    pki::fill_random(&mut b);
    b
}

#[derive(Serialize)]
struct SeReport {
    se: String,
    se_identifier: String,
    isd_kvn: String,
    enc: String,
    mac: String,
    dek: String,
    kcv: [String; 3],
}

fn report(se_path: &Path, state: &se::SeState, master: &AesKey) -> SeReport {
    let id = state.se_identifier();
    let keys = gp::StaticKeys::diversify_kdf3(se::element::ISD_KVN, master, &id);
    SeReport {
        se: se_path.display().to_string(),
        se_identifier: hex::encode_upper(id),
        isd_kvn: format!("{:02X}", keys.kvn),
        enc: hex::encode_upper(keys.enc.expose()),
        mac: hex::encode_upper(keys.mac.expose()),
        dek: hex::encode_upper(keys.dek.expose()),
        kcv: [keys.enc.kcv(), keys.mac.kcv(), keys.dek.kcv()].map(hex::encode_upper),
    }
}

/// `jpki se new`
pub fn new(a: &SeNewArgs, json: bool) -> Result<()> {
    if a.out.exists() && !a.force {
        bail!("{} exists; pass --force to replace that SE (everything in it is lost)", a.out.display());
    }
    let master_file = a.master_key_file.clone().unwrap_or_else(default_master_key_file);
    if let Some(parent) = master_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let master = master_key(&master_file, true)?;
    let state = se::SecureElement::manufacture(&master, random_bytes(), random_bytes());
    pki::fs::write_atomically(&a.out, &serde_json::to_vec_pretty(&state)?)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let r = report(&a.out, &state, &master);
    if json {
        return output::json(
            &serde_json::json!({ "se": r.se, "se_identifier": r.se_identifier, "isd_kvn": r.isd_kvn }),
        );
    }
    output::line(format_args!(
        "SE written to {} (SE identifier {}, ISD key version {})",
        a.out.display(),
        r.se_identifier,
        r.isd_kvn
    ))?;
    output::line(format_args!(
        "ISD keys: jpki se keys --se {} --master-key-file {}",
        a.out.display(),
        master_file.display()
    ))
}

/// `jpki se keys`
pub fn keys(a: &SeKeysArgs, json: bool) -> Result<()> {
    let master = master_key(&a.master_key_file, false)?;
    let se = se::SecureElement::open(&a.se).map_err(anyhow::Error::msg)?;
    let r = report(&a.se, se.state(), &master);
    if json {
        return output::json(&r);
    }
    output::line(format_args!("SE identifier (KDD): {}", r.se_identifier))?;
    output::line(format_args!("ISD key version:     {}", r.isd_kvn))?;
    output::line(format_args!("Key-ENC: {}  KCV {}", r.enc, r.kcv[0]))?;
    output::line(format_args!("Key-MAC: {}  KCV {}", r.mac, r.kcv[1]))?;
    output::line(format_args!("Key-DEK: {}  KCV {}", r.dek, r.kcv[2]))
}

/// `jpki se serve`
pub fn serve(a: &SeServeArgs) -> Result<()> {
    let mut se = se::SecureElement::open(&a.se).map_err(anyhow::Error::msg)?;
    eprintln!("Serving SE {} to vpcd at {} (Ctrl-C to stop)", a.se.display(), a.vpcd);
    let options = transport::vpcd::ServeOptions { reconnect: !a.once, ..Default::default() };
    let stop = std::sync::atomic::AtomicBool::new(false);
    transport::vpcd::serve(&a.vpcd, &mut se, &options, &stop)
        .with_context(|| format!("serving to vpcd at {} (is pcscd with vsmartcard-vpcd running?)", a.vpcd))
}
