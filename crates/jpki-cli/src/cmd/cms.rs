//! `jpki cms ...`

use crate::args::parse_hash;
use crate::args::{DeviceArgs, KeyName, PinArgs};
use crate::{device, output, pins};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;
use std::time::SystemTime;

/// `jpki cms ...`
#[derive(Debug, Subcommand)]
pub enum CmsCommand {
    /// Make an RFC 5652 SignedData with a card key.
    Sign(CmsSignArgs),
    /// Verify a SignedData: signature, chain, validity at signing time,
    /// keyUsage, CA constraints.
    Verify(CmsVerifyArgs),
}

/// CMS output formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CmsFormat {
    /// Binary DER.
    Der,
    /// PEM (`-----BEGIN CMS-----`).
    Pem,
}

/// `jpki cms sign`
#[derive(Debug, Args)]
pub struct CmsSignArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub pins: PinArgs,
    #[command(flatten)]
    pub cms: CmsSignOptions,
    /// Digest algorithm.
    #[arg(long, default_value = "sha256", value_parser = parse_hash)]
    pub hash: pki::HashAlg,
}

/// What to sign, with which key, and where the SignedData goes (`jpki cms
/// sign` and `jpki phone cms sign`).
#[derive(Debug, Args)]
pub struct CmsSignOptions {
    /// Which key (auth signs with the 4-digit PIN, as マイナポータル login needs).
    #[arg(long = "type", short = 't', value_enum, default_value = "sign")]
    pub key: KeyName,
    /// Leave the content out of the signature.
    #[arg(long)]
    pub detached: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "der")]
    pub format: CmsFormat,
    /// Content to sign ("-" for standard input).
    pub input: PathBuf,
    /// Output file.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
}

/// `jpki cms verify`
#[derive(Debug, Args)]
pub struct CmsVerifyArgs {
    /// SignedData, DER or PEM.
    pub input: PathBuf,
    /// The signed content, for a detached signature.
    #[arg(long, short, value_name = "FILE")]
    pub content: Option<PathBuf>,
    /// Trusted CA certificate(s), PEM or DER; repeat for several.
    #[arg(long, required = true, value_name = "CA.pem")]
    pub ca: Vec<PathBuf>,
    /// Write the verified content to FILE.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `jpki cms …`.
pub fn run(command: CmsCommand, json: bool) -> Result<()> {
    match command {
        CmsCommand::Sign(a) => sign(&a),
        CmsCommand::Verify(a) => verify(&a, json),
    }
}

/// `jpki cms sign`
pub fn sign(a: &CmsSignArgs) -> Result<()> {
    let content = output::read_in(&a.cms.input)?;
    let key = super::key_type(a.cms.key);
    let mut dev = device::open(&a.device)?;
    pins::verify(&mut dev.card, key.pin(), &a.pins)?;
    let options = pki::cms::SignOptions { hash: a.hash, detached: a.cms.detached, signing_time: SystemTime::now() };
    let der = jpki::sign_cms(&mut dev.card, key, &content, &options)?;
    write_cms(&der, &a.cms)
}

/// Writes a SignedData as DER or PEM and says what was written.
pub fn write_cms(der: &[u8], options: &CmsSignOptions) -> Result<()> {
    let (out, detached) = (&options.out, options.detached);
    let bytes = match options.format {
        CmsFormat::Der => der.to_vec(),
        CmsFormat::Pem => der::pem::encode_string("CMS", der::pem::LineEnding::LF, der)
            .map_err(|e| anyhow::anyhow!("PEM: {e}"))?
            .into_bytes(),
    };
    output::write_out(Some(out), &bytes)?;
    eprintln!("Wrote {} to {}", if detached { "a detached CMS signature" } else { "CMS SignedData" }, out.display());
    Ok(())
}

#[derive(Serialize)]
struct VerifyReport {
    valid: bool,
    signer: pki::describe::Summary,
    chain: Vec<String>,
    signing_time: Option<String>,
    hash: pki::HashAlg,
    content_length: usize,
}

/// Reads CMS as DER or PEM (`CMS` or `PKCS7` label).
fn read_cms(path: &std::path::Path) -> Result<Vec<u8>> {
    let bytes = output::read_in(path)?;
    if bytes.starts_with(b"-----BEGIN") {
        let (label, der) =
            der::pem::decode_vec(&bytes).map_err(|e| anyhow::anyhow!("the PEM input is damaged: {e}"))?;
        anyhow::ensure!(matches!(label, "CMS" | "PKCS7"), "PEM label {label} is not CMS or PKCS7");
        return Ok(der);
    }
    Ok(bytes)
}

/// `jpki cms verify`
pub fn verify(a: &CmsVerifyArgs, json: bool) -> Result<()> {
    let der = read_cms(&a.input)?;
    let mut anchors = Vec::new();
    for path in &a.ca {
        let bytes = output::read_in(path)?;
        anchors.extend(
            pki::cert::parse_certificates(&bytes).with_context(|| format!("reading CA file {}", path.display()))?,
        );
    }
    let content = a.content.as_deref().map(output::read_in).transpose()?;
    let options = pki::cms::VerifyOptions { anchors: &anchors, detached_content: content.as_deref(), at: None };
    let verified = pki::cms::verify(&der, &options)?;
    if let Some(out) = &a.out {
        output::write_out(Some(out), &verified.content)?;
    }
    let fmt_time = |t: SystemTime| {
        time::OffsetDateTime::from(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    };
    let report = VerifyReport {
        valid: true,
        signer: pki::describe::summarize(&verified.signer),
        chain: verified.path.iter().map(pki::chain::subject).collect(),
        signing_time: verified.signing_time.map(fmt_time),
        hash: verified.hash,
        content_length: verified.content.len(),
    };
    if json {
        return output::json(&report);
    }
    output::line("Verification successful")?;
    output::line(format_args!("Signer:       {}", report.signer.subject))?;
    if let Some(h) = &report.signer.holder {
        output::line(format_args!("Holder:       {} ({})", h.name, h.address))?;
    }
    output::line(format_args!("Issuer:       {}", report.signer.issuer))?;
    output::line(format_args!("Signing time: {}", report.signing_time.as_deref().unwrap_or("(none)")))?;
    output::line(format_args!("Digest:       {}", report.hash))
}
