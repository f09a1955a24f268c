//! `jpki operator …`: the JPKI service's operator API (bearer token) from
//! the command line — revocation, hold and release (一時保留), records.

use crate::cli::{OperatorCommand, OperatorLinksArgs, OperatorSerialArgs, OperatorTarget, RevocationReason};
use crate::output;
use anyhow::{anyhow, Context, Result};
use pki::crl::Reason;

/// `jpki operator …`
pub fn run(command: &OperatorCommand, json: bool) -> Result<()> {
    match command {
        OperatorCommand::Revoke(a) => {
            let reason = reason(a.reason);
            let (client, rt) = connect(&a.serial.target)?;
            let serial = serial(&a.serial)?;
            let revoked = rt.block_on(client.revoke(&request_id(&a.serial), &serial, reason))?;
            if json {
                return output::json(&serde_json::json!({ "revoked": revoked, "reason": reason }));
            }
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
