//! `jpki bench issuance`: phone certificates through the JPKI service's rules
//! ([`jlis::Jlis::issue_phone`] on a SQLite file, durable commits), beside
//! `openssl speed -multi CORES rsa2048` in the same run.
//!
//! This machine's speed moves by a third from one minute to the next, so
//! the two are measured in alternating rounds (OpenSSL, then a batch of
//! issuances, then OpenSSL again, …) and each round's ratio is reported; the
//! median of the ratios is the figure to compare with the target.

use super::micro::at_once;
use crate::bench::IssuanceBenchArgs;
use crate::output;
use anyhow::{Context, Result};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// One round: OpenSSL's rate, then a batch of issuances.
#[derive(Debug, Serialize)]
struct Round {
    openssl_sign_per_s_all_cores: Option<f64>,
    issued: usize,
    seconds: f64,
    issuances_per_s: f64,
    cpu_ms_per_issuance: Option<f64>,
    /// Issuances per second ÷ OpenSSL's signatures per second, both on all cores.
    ratio: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: String,
    cores: usize,
    concurrency: usize,
    rounds: Vec<Round>,
    median_issuances_per_s: f64,
    median_cpu_ms_per_issuance: Option<f64>,
    median_ratio: Option<f64>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2.0 } else { v[mid] })
}

/// A card certificate and a signed application for each of `n` cards (all
/// sharing `card_key`; the card's work, done before any timing).
pub(super) async fn issue_cards(
    service: &Arc<jlis::Jlis>,
    card_key: &Arc<pki::RsaPrivateKey>,
    n: usize,
    concurrency: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let key = card_key.public_key_der();
    let jobs = (0..n)
        .map(|i| {
            let (service, key, card_key) = (service.clone(), key.clone(), card_key.clone());
            async move {
                let (_, sign) = service.issue_card(&format!("card-{i}"), &pki::Holder::example(), &key, &key).await?;
                let application = jlis::application::Application::example(&[jlis::PhoneCertType::Sign])
                    .sign_with(&card_key, &sign)
                    .map_err(anyhow::Error::msg)?;
                anyhow::Ok((sign, application))
            }
        })
        .collect();
    at_once(concurrency, jobs).await
}

/// One phone sign certificate for each card of `batch` (request ids from
/// `first`); returns how many were issued.
pub(super) async fn issue_phones(
    service: &Arc<jlis::Jlis>,
    key: &[u8],
    batch: Vec<(Vec<u8>, Vec<u8>)>,
    first: usize,
    concurrency: usize,
) -> Result<usize> {
    let jobs = batch
        .into_iter()
        .enumerate()
        .map(|(i, (card, application))| {
            let (service, key) = (service.clone(), key.to_vec());
            let n = first + i;
            async move {
                let req = jlis::PhoneRequest {
                    request_id: format!("phone-{n}"),
                    card_certificate: card,
                    application,
                    phone_public_key: key,
                    se_id: format!("{n:020X}"),
                    cert_type: jlis::PhoneCertType::Sign,
                    // The in-process service here does not require device trust.
                    attestation_result: None,
                    key_attestation: vec![],
                };
                service.issue_phone(&req).await?;
                anyhow::Ok(())
            }
        })
        .collect();
    Ok(at_once(concurrency, jobs).await.context("issuing phone certificates")?.len())
}

/// `jpki bench issuance`
pub fn issuance(a: &IssuanceBenchArgs, json: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("jlis.sqlite").display());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (count, rounds, concurrency) = (a.count as usize, a.rounds as usize, a.concurrency as usize);
    let per_round = count.div_ceil(rounds);
    let rounds = runtime.block_on(async {
        let service =
            Arc::new(jlis::Jlis::open(&url, pki::ca::LocalCa::open_or_create(&dir.path().join("ca"))?).await?);
        // Every card shares one key pair; the holders' applications are
        // signed before the timed rounds (the card's work, not the service's).
        let card_key = Arc::new(pki::RsaPrivateKey::generate_2048()?);
        let key = card_key.public_key_der();
        if !json {
            eprintln!(
                "issuing {} cards, then {} rounds of `openssl speed -multi {cores}` and {per_round} phone certificates, {} at a time…",
                per_round * rounds,
                rounds,
                concurrency
            );
        }
        let mut cards =
            issue_cards(&service, &card_key, per_round * rounds, concurrency).await.context("issuing the cards")?;
        let mut results = Vec::with_capacity(rounds);
        let bar = crate::progress::bar(rounds as u64, "rounds", json);
        for round in 0..rounds {
            let openssl = tokio::task::spawn_blocking(move || super::micro::openssl_sign_per_s(cores, 1.0)).await?;
            let batch: Vec<_> = cards.drain(..per_round).collect();
            let (start, cpu_start) = (Instant::now(), super::micro::process_cpu_seconds());
            let issued = issue_phones(&service, &key, batch, round * per_round, concurrency).await?;
            let seconds = start.elapsed().as_secs_f64();
            let cpu_ms_per_issuance = match (cpu_start, super::micro::process_cpu_seconds()) {
                (Some(a), Some(b)) if issued > 0 => Some(1000.0 * (b - a) / issued as f64),
                _ => None,
            };
            let issuances_per_s = issued as f64 / seconds;
            let r = Round {
                ratio: openssl.map(|o| issuances_per_s / o),
                openssl_sign_per_s_all_cores: openssl,
                issued,
                seconds,
                issuances_per_s,
                cpu_ms_per_issuance,
            };
            let line = format!(
                "round {}: openssl {:.0} sign/s, issuance {:.0}/s ({:.2} ms CPU each) = {:.0}%",
                round + 1,
                r.openssl_sign_per_s_all_cores.unwrap_or(f64::NAN),
                r.issuances_per_s,
                r.cpu_ms_per_issuance.unwrap_or(f64::NAN),
                100.0 * r.ratio.unwrap_or(f64::NAN)
            );
            crate::progress::say(&bar, json, &line);
            bar.inc(1);
            results.push(r);
        }
        bar.finish_and_clear();
        anyhow::Ok(results)
    })?;
    let report = Report {
        machine: super::micro::machine(),
        cores,
        concurrency,
        median_issuances_per_s: median(rounds.iter().map(|r| r.issuances_per_s).collect()).unwrap_or(0.0),
        median_cpu_ms_per_issuance: median(rounds.iter().filter_map(|r| r.cpu_ms_per_issuance).collect()),
        median_ratio: median(rounds.iter().filter_map(|r| r.ratio).collect()),
        rounds,
    };
    if json {
        return output::json(&report);
    }
    output::line(format_args!(
        "phone certificates: median {:.0}/s, {:.2} ms of CPU each, over {} rounds at {} at a time",
        report.median_issuances_per_s,
        report.median_cpu_ms_per_issuance.unwrap_or(f64::NAN),
        report.rounds.len(),
        report.concurrency
    ))?;
    match report.median_ratio {
        Some(r) => output::line(format_args!(
            "issuance = {:.0}% (median of the rounds) of `openssl speed -multi {cores} rsa2048` sign/s in the same round",
            100.0 * r
        )),
        None => output::line("openssl speed not available: no ratio"),
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![0.4, 0.5]), Some(0.45));
    }
}
