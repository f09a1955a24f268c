//! `jpki attack list|run`: the attack catalogue (docs/threat-model.md)
//! against a fresh deployment started in this process, for a
//! demonstration; the same attacker programs run in `tests/attacks/`.

use crate::cli::{AttackRunArgs, AttackSelection};
use crate::output;
use anyhow::{anyhow, Context, Result};

/// Some attack got through: the command exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0} of {1} attack patterns were not stopped (see above)")]
pub struct Breached(pub usize, pub usize);

/// `jpki attack list`
pub fn list(json: bool) -> Result<()> {
    let catalogue = &attack::patterns::CATALOGUE;
    if json {
        return output::json(catalogue);
    }
    for p in catalogue {
        output::line(format_args!("{:>2}  {}\n    stopped by {}", p.number, p.title, p.mechanism))?;
    }
    Ok(())
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn print(report: &attack::Report) -> Result<()> {
    let p = &report.pattern;
    let verdict = if report.held() { "HELD" } else { "NOT STOPPED" };
    output::line(format_args!("Pattern {:>2} — {}: {verdict}\n  mechanism: {}", p.number, p.title, p.mechanism))?;
    match &report.outcome {
        Ok(refusals) => {
            for r in refusals {
                output::line(format_args!("  tried:   {}\n  refused: {}", r.tried, shorten(&r.observed, 160)))?;
            }
        }
        Err(breach) => output::line(format_args!("  {breach}"))?,
    }
    output::line("")
}

/// `jpki attack run N|all`
pub fn run(a: &AttackRunArgs, json: bool) -> Result<()> {
    let numbers: Vec<u8> = match a.pattern {
        AttackSelection::All => (1..=16).collect(),
        AttackSelection::One(n) => vec![n],
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let reports = runtime.block_on(async {
        if !json {
            eprintln!("starting a fresh deployment (JPKI service, SEI-TSM, SP-TSM) with the attacker's taps…");
        }
        let lab = attack::Lab::start().await.map_err(|e| anyhow!("the attack lab did not start: {e}"))?;
        let mut reports = Vec::with_capacity(numbers.len());
        for (i, n) in numbers.iter().enumerate() {
            if !json {
                eprintln!("[{}/{}] pattern {n}…", i + 1, numbers.len());
            }
            let report = attack::run(&lab, *n).await.map_err(|e| anyhow!(e))?;
            if !json {
                print(&report)?;
            }
            reports.push(report);
        }
        anyhow::Ok(reports)
    })?;
    let breached = reports.iter().filter(|r| !r.held()).count();
    if json {
        output::json(&serde_json::json!({ "held": breached == 0, "patterns": reports }))?;
    } else {
        output::line(format_args!(
            "{} of {} patterns attempted, {} held.",
            reports.len(),
            reports.len(),
            reports.len() - breached
        ))?;
    }
    if breached > 0 {
        return Err(Breached(breached, reports.len()).into());
    }
    Ok(())
}
