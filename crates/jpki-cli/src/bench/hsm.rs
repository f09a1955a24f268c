//! `jpki bench hsm`: phone-certificate issuance through the JPKI service's
//! rules with the CA keys in a PKCS#11 token (SoftHSM2) beside the same
//! with the keys in software (aws-lc-rs), in alternating rounds of the same
//! run (issue 15, point 5): the ratio is the figure, since this machine's
//! speed moves from one minute to the next.

use super::issuance::{issue_cards, issue_phones};
use crate::bench::HsmBenchArgs;
use crate::output;
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Serialize)]
struct Round {
    software_per_s: f64,
    hsm_per_s: f64,
    /// HSM ÷ software.
    ratio: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    module: String,
    concurrency: usize,
    per_round: usize,
    rounds: Vec<Round>,
    median_software_per_s: f64,
    median_hsm_per_s: f64,
    median_ratio: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `jpki bench hsm`
pub fn hsm(a: &HsmBenchArgs, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (keys, conf) =
        hsm::softhsm::init_token(&dir.path().join("softhsm"), "openjpki-bench", "1234").map_err(|e| anyhow!(e))?;
    // Read by the module when it is loaded, below; no other thread runs yet.
    std::env::set_var("SOFTHSM2_CONF", conf);
    let (rounds, per_round, concurrency) = (a.rounds as usize, a.count as usize, a.concurrency as usize);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let software = {
            let ca = pki::ca::LocalCa::open_or_create(&dir.path().join("software-ca"))?;
            Arc::new(jlis::Jlis::open(&format!("sqlite://{}", dir.path().join("software.sqlite").display()), ca).await?)
        };
        let in_token = {
            let store = hsm::Pkcs11KeyStore::open(&keys)?;
            let ca = pki::ca::LocalCa::open_with(&dir.path().join("hsm-ca"), &store)?;
            Arc::new(jlis::Jlis::open(&format!("sqlite://{}", dir.path().join("hsm.sqlite").display()), ca).await?)
        };
        let card_key = Arc::new(pki::RsaPrivateKey::generate_2048()?);
        let key = card_key.public_key_der();
        if !json {
            eprintln!("issuing {} cards under each CA…", rounds * per_round);
        }
        let mut cards = [
            issue_cards(&software, &card_key, rounds * per_round, concurrency).await?,
            issue_cards(&in_token, &card_key, rounds * per_round, concurrency).await?,
        ];
        let mut results = Vec::new();
        let bar = crate::progress::bar(rounds as u64, "rounds", json);
        for round in 0..rounds {
            let mut rates = [0.0; 2];
            for (i, service) in [&software, &in_token].into_iter().enumerate() {
                let batch: Vec<_> = cards[i].drain(..per_round).collect();
                let start = Instant::now();
                let issued = issue_phones(service, &key, batch, round * per_round, concurrency).await?;
                rates[i] = issued as f64 / start.elapsed().as_secs_f64();
            }
            let r = Round { software_per_s: rates[0], hsm_per_s: rates[1], ratio: rates[1] / rates[0] };
            let line = format!(
                "round {}: software {:.0}/s, SoftHSM2 {:.0}/s = {:.0}%",
                round + 1,
                r.software_per_s,
                r.hsm_per_s,
                100.0 * r.ratio
            );
            crate::progress::say(&bar, json, &line);
            bar.inc(1);
            results.push(r);
        }
        bar.finish_and_clear();
        anyhow::Ok(Report {
            machine: super::micro::machine(),
            module: keys.module.display().to_string(),
            concurrency,
            per_round,
            median_software_per_s: median(results.iter().map(|r| r.software_per_s).collect()),
            median_hsm_per_s: median(results.iter().map(|r| r.hsm_per_s).collect()),
            median_ratio: median(results.iter().map(|r| r.ratio).collect()),
            rounds: results,
        })
    })?;
    if json {
        return output::json(&report);
    }
    output::line(format_args!(
        "phone certificates with the CA keys in SoftHSM2: median {:.0}/s; in software: {:.0}/s; \
         SoftHSM2 = {:.0}% of software (median of {} rounds of {} each, {} at a time)",
        report.median_hsm_per_s,
        report.median_software_per_s,
        100.0 * report.median_ratio,
        report.rounds.len(),
        report.per_round,
        report.concurrency
    ))
}
