//! `jpki attack list|run`: the attack catalogue (docs/threat-model.md)
//! against a fresh deployment started in this process, for a
//! demonstration; the same attacker programs run in `tests/attacks/`.

use crate::output;
use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};

/// `jpki attack ...`
#[derive(Debug, Subcommand)]
pub enum AttackCommand {
    /// The sixteen patterns and the mechanisms that stop them.
    List,
    /// Start a fresh deployment (the three services on loopback HTTPS, the
    /// attacker's taps between the phone and the SP-TSM and between the
    /// SP-TSM and the JPKI service, emulated cards and phones) and run the
    /// attacks on it; prints per pattern what was tried, the mechanism and
    /// the refusal observed. Exits 1 if any attack was not stopped.
    Run(AttackRunArgs),
}

/// `jpki attack run`
#[derive(Debug, Args)]
pub struct AttackRunArgs {
    /// A pattern number (1–16), or `all`.
    #[arg(value_name = "N|all", value_parser = parse_attack_selection)]
    pub pattern: AttackSelection,
}

/// Which patterns `jpki attack run` runs.
#[derive(Debug, Clone, Copy)]
pub enum AttackSelection {
    /// Every pattern, in order.
    All,
    /// One pattern.
    One(u8),
}

fn parse_attack_selection(text: &str) -> Result<AttackSelection, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(AttackSelection::All);
    }
    match text.parse::<u8>() {
        Ok(n @ 1..=16) => Ok(AttackSelection::One(n)),
        _ => Err(format!("{text:?} is not a pattern: give 1 to 16, or all (see `jpki attack list`)")),
    }
}

/// Runs `jpki attack …`.
pub fn run(command: AttackCommand, json: bool) -> Result<()> {
    match command {
        AttackCommand::List => list(json),
        AttackCommand::Run(a) => run_patterns(&a, json),
    }
}

/// Some attack got through: the command exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0} of {1} attack patterns were not stopped (see above)")]
pub struct Breached(pub usize, pub usize);

/// `jpki attack list`
fn list(json: bool) -> Result<()> {
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
fn run_patterns(a: &AttackRunArgs, json: bool) -> Result<()> {
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
        let bar = crate::progress::bar(numbers.len() as u64, "attack patterns", json);
        for (i, n) in numbers.iter().enumerate() {
            if !json && bar.is_hidden() {
                eprintln!("[{}/{}] pattern {n}…", i + 1, numbers.len());
            }
            let report = attack::run(&lab, *n).await.map_err(|e| anyhow!(e))?;
            if !json {
                bar.suspend(|| print(&report))?;
            }
            bar.inc(1);
            reports.push(report);
        }
        bar.finish_and_clear();
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
