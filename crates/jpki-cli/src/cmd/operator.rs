//! `jpki operator …`: the JPKI service's operator API (bearer token) from
//! the command line — revocation, hold and release (一時保留), records.

use crate::output;
use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use pki::crl::Reason;
use std::path::PathBuf;

/// `jpki operator …`
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Revoke a certificate; a card certificate's linked phone certificates
    /// are revoked with it (cascade).
    Revoke(OperatorRevokeArgs),
    /// Put a certificate on hold (一時保留): OCSP and CRLs say certificateHold.
    Hold(OperatorSerialArgs),
    /// Release a hold: the certificate is good again.
    Release(OperatorSerialArgs),
    /// A certificate's record: kind, holder, status, reason, links.
    Show(OperatorSerialArgs),
    /// The card ↔ phone links recorded for a secure element.
    Links(OperatorLinksArgs),
}

/// Which JPKI service, and the operator's credentials.
#[derive(Debug, Args)]
pub struct OperatorTarget {
    /// A deployment (`jpki serve all --init --dir SYS`): the JPKI service's
    /// URL, TLS CA and operator token are read from SYS.
    #[arg(long, value_name = "SYS", conflicts_with_all = ["jlis", "tls_ca", "operator_token_file"])]
    pub services: Option<PathBuf>,
    /// The JPKI service, e.g. https://localhost:8443.
    #[arg(long, value_name = "URL", required_unless_present = "services", requires_all = ["tls_ca", "operator_token_file"])]
    pub jlis: Option<String>,
    /// TLS CA of the JPKI service (`tls/ca.pem` of `jpki serve jlis --init`).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// File holding the operator token of the JPKI service.
    #[arg(long, value_name = "FILE")]
    pub operator_token_file: Option<PathBuf>,
}

/// `jpki operator hold|release|show`
#[derive(Debug, Args)]
pub struct OperatorSerialArgs {
    #[command(flatten)]
    pub target: OperatorTarget,
    /// The certificate's serial number (hex, as `jpki card info` and OCSP show it).
    #[arg(value_name = "SERIAL")]
    pub serial: String,
    /// Request id, so that a retried command is not applied twice
    /// (default: a fresh one).
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
}

/// `jpki operator revoke`
#[derive(Debug, Args)]
pub struct OperatorRevokeArgs {
    #[command(flatten)]
    pub serial: OperatorSerialArgs,
    /// RFC 5280 reason.
    #[arg(long, value_enum, default_value = "unspecified")]
    pub reason: RevocationReason,
}

/// Revocation reasons an operator gives (hold has its own command).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevocationReason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1): the card or phone was lost or stolen with its PIN.
    KeyCompromise,
    /// affiliationChanged (3): the holder's name or address changed.
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5): the holder gave the card back, or died.
    CessationOfOperation,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

/// `jpki operator links`
#[derive(Debug, Args)]
pub struct OperatorLinksArgs {
    #[command(flatten)]
    pub target: OperatorTarget,
    /// The secure element's identifier (hex).
    #[arg(value_name = "SE_ID")]
    pub se_id: String,
}

/// `jpki operator …`
pub fn run(command: &OperatorCommand, json: bool) -> Result<()> {
    match command {
        OperatorCommand::Revoke(a) => {
            let reason = reason(a.reason);
            let (client, rt) = connect(&a.serial.target)?;
            let serial = serial(&a.serial)?;
            let answer = rt.block_on(client.revoke(&request_id(&a.serial), &serial, reason))?;
            if json {
                return output::json(&serde_json::json!({
                    "revoked": answer.revoked,
                    "reason": reason,
                    "awaiting_second_operator": answer.awaiting_second_operator,
                }));
            }
            if let Some(first) = answer.awaiting_second_operator {
                output::line(format_args!(
                    "Approved by {first}; {serial} is not revoked yet: under dual control a second operator must \
                     run the same revocation with their own token."
                ))?;
                return Ok(());
            }
            let revoked = answer.revoked;
            output::line(format_args!("Revoked {serial} ({}).", reason_name(reason)))?;
            for cascaded in revoked.iter().filter(|s| **s != serial) {
                output::line(format_args!("  with it, linked phone certificate {cascaded}"))?;
            }
            Ok(())
        }
        OperatorCommand::Hold(a) | OperatorCommand::Release(a) => {
            let hold = matches!(command, OperatorCommand::Hold(_));
            let (client, rt) = connect(&a.target)?;
            let serial = serial(a)?;
            let id = request_id(a);
            let answer = rt.block_on(async {
                if hold {
                    client.hold(&id, &serial).await
                } else {
                    client.release(&id, &serial).await
                }
            })?;
            if json {
                return output::json(&answer);
            }
            output::line(if hold {
                format!("{serial} is on hold (OCSP and CRLs say certificateHold); `jpki operator release` lifts it.")
            } else {
                format!("{serial} is released: good again.")
            })
        }
        OperatorCommand::Show(a) => {
            let (client, rt) = connect(&a.target)?;
            let record = rt.block_on(client.record(&serial(a)?))?;
            if json {
                return output::json(&record);
            }
            show(&record)
        }
        OperatorCommand::Links(a) => links(a, json),
    }
}

fn links(a: &OperatorLinksArgs, json: bool) -> Result<()> {
    let (client, rt) = connect(&a.target)?;
    let answer = rt.block_on(client.links_of_se(&a.se_id))?;
    if json {
        return output::json(&answer);
    }
    let links = answer["links"].as_array().cloned().unwrap_or_default();
    if links.is_empty() {
        return output::line(format_args!("No certificates were ever issued for SE {}.", a.se_id.to_uppercase()));
    }
    for l in links {
        output::line(format_args!(
            "{:<4} phone {}  ← card {}",
            l["cert_type"].as_str().unwrap_or("?"),
            l["phone_serial"].as_str().unwrap_or("?"),
            l["card_serial"].as_str().unwrap_or("?")
        ))?;
    }
    Ok(())
}

fn show(r: &serde_json::Value) -> Result<()> {
    let field = |k: &str| r[k].as_str().unwrap_or("-").to_string();
    output::line(format_args!("Serial:    {}", field("serial")))?;
    output::line(format_args!("Kind:      {} certificate, {} CA", field("kind"), field("ca")))?;
    output::line(format_args!("Subject:   {}", field("subject")))?;
    let status = match r["reason"].as_str() {
        Some(reason) => format!("{} ({reason})", field("status")),
        None => field("status"),
    };
    output::line(format_args!("Status:    {status}"))?;
    for l in r["links"].as_array().into_iter().flatten() {
        output::line(format_args!(
            "Link:      card {} → phone {} ({}) in SE {}",
            l["card_serial"].as_str().unwrap_or("?"),
            l["phone_serial"].as_str().unwrap_or("?"),
            l["cert_type"].as_str().unwrap_or("?"),
            l["se_id"].as_str().unwrap_or("?")
        ))?;
    }
    Ok(())
}

/// The client of the JPKI service named by `--services` or `--jlis`.
fn connect(t: &OperatorTarget) -> Result<(jlis::client::JlisClient, tokio::runtime::Runtime)> {
    let (url, tls_ca, token_file) = match (&t.services, &t.jlis, &t.tls_ca, &t.operator_token_file) {
        (Some(sys), ..) => {
            let e = testbed::Endpoints::read(sys)
                .map_err(|e| anyhow!("{e} (make a deployment with `jpki serve all --init --dir {}`)", sys.display()))?;
            (e.jlis_url, e.tls_ca, sys.join("operator.token"))
        }
        (None, Some(url), Some(ca), Some(token)) => (url.clone(), ca.clone(), token.clone()),
        _ => return Err(anyhow!("give --services SYS, or --jlis URL with --tls-ca and --operator-token-file")),
    };
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("reading the operator token {}", token_file.display()))?;
    let client = jlis::client::JlisClient::new(&url, &tls_ca, None, Some(token.trim().to_string()))
        .map_err(|e| anyhow!("{e}"))?;
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    Ok((client, rt))
}

fn serial(a: &OperatorSerialArgs) -> Result<String> {
    let serial = a.serial.trim().trim_start_matches("0x").replace(':', "").to_uppercase();
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(anyhow!("{:?} is not a serial number: give it in hex, e.g. 4F1A…", a.serial));
    }
    Ok(serial)
}

fn request_id(a: &OperatorSerialArgs) -> String {
    a.request_id.clone().unwrap_or_else(|| {
        let mut id = [0u8; 12];
        pki::fill_random(&mut id);
        format!("operator-{}", hex::encode(id))
    })
}

fn reason(r: RevocationReason) -> Reason {
    match r {
        RevocationReason::Unspecified => Reason::Unspecified,
        RevocationReason::KeyCompromise => Reason::KeyCompromise,
        RevocationReason::AffiliationChanged => Reason::AffiliationChanged,
        RevocationReason::Superseded => Reason::Superseded,
        RevocationReason::CessationOfOperation => Reason::CessationOfOperation,
        RevocationReason::PrivilegeWithdrawn => Reason::PrivilegeWithdrawn,
    }
}

fn reason_name(r: Reason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
