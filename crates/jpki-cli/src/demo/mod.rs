//! `jpki demo [card|phone]`: end-to-end demonstrations, each step timed.

pub mod card;
pub mod phone;

use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `jpki demo [card|phone]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoCli {
    /// Which demonstration (default: phone, the whole system).
    #[command(subcommand)]
    pub command: Option<DemoCommand>,
    /// Options of the default demonstration.
    #[command(flatten)]
    pub args: DemoArgs,
}

/// `jpki demo ...`
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// A fresh card, served in-process: status, certificates, a CMS signature
    /// and its verification, each step timed.
    Card(DemoArgs),
    /// The whole system: the JPKI service, SEI-TSM and SP-TSM on loopback
    /// HTTPS, a card, a phone prepared, applied for and provisioned, a CMS
    /// signature checked as a relying party would, a second phone superseding
    /// the first, and the card's revocation cascading — each step timed.
    Phone(DemoArgs),
}

/// `jpki demo card`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Work in DIR (kept) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `jpki demo …`.
pub fn run(demo: DemoCli, json: bool) -> Result<()> {
    match demo.command {
        Some(DemoCommand::Card(a)) => card::card(&a, json),
        Some(DemoCommand::Phone(a)) => phone::run(&a, json),
        None => phone::run(&demo.args, json),
    }
}
