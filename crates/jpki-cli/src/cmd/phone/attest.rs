//! `jpki phone attest`: the phone's device evidence, decoded, and the
//! deployment's verifier's appraisal of it (docs/device-trust.md).

use crate::cmd::phone::PhoneAttestArgs;
use crate::output;
use anyhow::{anyhow, bail, Context, Result};
use attest::android::KeyDescription;
use attest::appraisal::{Metadata, Policy, Verifier};
use phone::dir::PhoneDir;

/// `jpki phone attest`
pub fn run(a: &PhoneAttestArgs, json: bool) -> Result<()> {
    let dir = PhoneDir::new(&a.phone.dir);
    let record = dir.record()?;
    let Some(tee) = dir.tee()? else {
        bail!("this phone has no TEE (made before device trust); make it again with `jpki phone new --services`")
    };
    let nonce = match &a.nonce {
        Some(h) => hex::decode(h).context("--nonce must be hex")?,
        None => {
            let mut n = vec![0u8; 32];
            pki::fill_random(&mut n);
            n
        }
    };
    if !(8..=64).contains(&nonce.len()) {
        bail!("--nonce must be 8 to 64 bytes (RFC 9711 eat_nonce)");
    }
    let se = phone::SeService::new(dir.open_se()?).with_se(|s| s.state().se_identifier());
    let evidence = tee.evidence(&nonce, &dir.app()?, &se, &record.model).map_err(|e| anyhow!(e))?;
    if let Some(out) = &a.out {
        std::fs::write(out, &evidence).with_context(|| format!("writing {}", out.display()))?;
    }
    let opened = attest::eat::open(&evidence).map_err(|e| anyhow!(e))?;
    let chain: Vec<String> = opened
        .chain
        .iter()
        .filter_map(|c| attest::x509::Parsed::from_der(c).ok())
        .map(|c| c.cert.tbs_certificate.subject.to_string())
        .collect();
    let leaf = attest::x509::Parsed::from_der(&opened.chain[0]).map_err(|e| anyhow!(e))?;
    let kd = leaf
        .extension(attest::android::OID)
        .map(KeyDescription::from_der)
        .transpose()
        .map_err(|e| anyhow!(e))?
        .ok_or_else(|| anyhow!("the evidence's key attestation has no KeyDescription"))?;
    let hw = &kd.hardware_enforced;
    let rot = hw.root_of_trust.as_ref();
    let app = kd.application_id();
    let verifier = deployment_verifier(&record.services)?;
    let appraised = verifier.appraise(&evidence, &nonce, std::time::SystemTime::now());
    let c = &opened.claims;
    let report = serde_json::json!({
        "evidence": { "format": "EAT (CWT, COSE_Sign1 ES256)", "bytes": evidence.len(), "nonce": hex::encode(&nonce) },
        "platform": { "model": c.hwmodel, "ueid": hex::encode(&c.ueid), "dbgstat": c.dbgstat,
                      "se_identifier": hex::encode_upper(&c.se_identifier), "applet": c.applet },
        "app": { "package": c.app_package, "signing_certificate_sha256": c.app_signing_digests.iter().map(hex::encode).collect::<Vec<_>>() },
        "key_attestation": {
            "chain": chain,
            "attestation_version": kd.attestation_version,
            "security_level": format!("{:?}", kd.attestation_security_level),
            "device_locked": rot.map(|r| r.device_locked),
            "verified_boot_state": rot.map(|r| format!("{:?}", r.verified_boot_state)),
            "verified_boot_key": rot.map(|r| hex::encode(r.verified_boot_key.as_bytes())),
            "os_version": hw.os_version, "os_patch_level": hw.os_patch_level,
            "vendor_patch_level": hw.vendor_patch_level, "boot_patch_level": hw.boot_patch_level,
            "attestation_application_id": app.map(|a| serde_json::json!({
                "packages": a.package_infos.iter().map(|p| String::from_utf8_lossy(p.package_name.as_bytes()).into_owned()).collect::<Vec<_>>(),
                "signature_digests": a.signature_digests.iter().map(|d| hex::encode(d.as_bytes())).collect::<Vec<_>>(),
            })),
        },
        "appraisal": {
            "policy": verifier.policy.id,
            "status": appraised.status(),
            "reasons": appraised.findings.iter().map(|r| serde_json::json!({"code": r.code(), "message": r.to_string()})).collect::<Vec<_>>(),
        },
    });
    if json {
        return output::json(&report);
    }
    let line = |s: String| output::line(format_args!("{s}"));
    line(format!(
        "Device evidence: EAT (COSE_Sign1, ES256), {} bytes, for nonce {}",
        evidence.len(),
        hex::encode(&nonce)
    ))?;
    line(format!(
        "  platform   {} (UEID {}), debug {}",
        c.hwmodel,
        hex::encode(&c.ueid),
        if c.dbgstat == 0 { "enabled" } else { "disabled" }
    ))?;
    line(format!("  SE         {} running the {}", hex::encode_upper(&c.se_identifier), c.applet))?;
    line(format!(
        "  app        {} signed by SHA-256 {}",
        c.app_package,
        c.app_signing_digests.first().map(hex::encode).unwrap_or_default()
    ))?;
    line(format!("Android key attestation (KeyMint {}, {:?}):", kd.key_mint_version, kd.attestation_security_level))?;
    line(format!("  chain      {}", chain.join("  <-  ")))?;
    if let Some(r) = rot {
        line(format!(
            "  boot       {}, {:?}, key {}",
            if r.device_locked { "locked" } else { "UNLOCKED" },
            r.verified_boot_state,
            hex::encode(r.verified_boot_key.as_bytes())
        ))?;
    }
    line(format!(
        "  patches    OS {} / vendor {} / boot {}",
        hw.os_patch_level.unwrap_or(0),
        hw.vendor_patch_level.unwrap_or(0),
        hw.boot_patch_level.unwrap_or(0)
    ))?;
    line(format!("Appraisal by the deployment's verifier (policy {}): {:?}", verifier.policy.id, appraised.status()))?;
    for r in &appraised.findings {
        line(format!("  {}: {r}", r.code()))?;
    }
    Ok(())
}

/// The deployment's verifier inputs, with a throwaway result key (this
/// appraisal is shown, never sent).
fn deployment_verifier(services: &std::path::Path) -> Result<Verifier> {
    let dir = services.join("device-trust");
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .with_context(|| format!("{}: the deployment has no device trust files", dir.join(f).display()))
    };
    let policy: Policy = serde_json::from_str(&read("policy.json")?).context("policy.json")?;
    let metadata: Metadata = serde_json::from_str(&read("metadata.json")?).context("metadata.json")?;
    Ok(Verifier::new(policy, metadata, attest::ec::EcKey::generate(), "jpki phone attest"))
}
