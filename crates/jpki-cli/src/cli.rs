//! The command line's root, defined once: `--help`, errors and completions
//! all come from these definitions. Each command group's arguments live
//! beside its implementation (`cmd::card`, `bench`, `demo`, …); the
//! arguments several groups share are in `args`.

use clap::{Parser, Subcommand};

use crate::bench::BenchCommand;
use crate::cmd::attack::AttackCommand;
use crate::cmd::audit::AuditCommand;
use crate::cmd::card::CardCommand;
use crate::cmd::cms::CmsCommand;
use crate::cmd::operator::OperatorCommand;
use crate::cmd::phone::PhoneCommand;
use crate::cmd::rssp::RsspCommand;
use crate::cmd::se::SeCommand;
use crate::cmd::serve::ServeCommand;
use crate::demo::DemoCli;

/// Use and emulate JPKI tokens: My Number cards, their certificates and keys.
///
/// Every `card` command works the same against a real card in a PC/SC reader
/// (`--reader`) and against an emulated card file (`--card`).
#[derive(Debug, Parser)]
#[command(name = "jpki", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Print machine-readable JSON instead of text (read commands).
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug, -vvv APDU trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// My Number card: make, serve, inspect, sign.
    #[command(subcommand)]
    Card(CardCommand),
    /// CMS (PKCS#7) signatures with a card key, and their verification.
    #[command(subcommand)]
    Cms(CmsCommand),
    /// Emulated GlobalPlatform secure elements (a phone's eSE).
    #[command(subcommand)]
    Se(SeCommand),
    /// An emulated smartphone: its SE, the JPKI app, NFC card emulation.
    #[command(subcommand)]
    Phone(PhoneCommand),
    /// Run a service.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Check a service's hash-chained audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The JPKI service's operators: revoke, hold and release certificates,
    /// look up a certificate's record and links (operator token).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Remote signing (CSC API): register with the card, sign files with a
    /// key kept by the service, suspend or delete it with the card; and the
    /// privileged users' side (`jpki rssp admin`).
    #[command(subcommand)]
    Rssp(RsspCommand),
    /// PAdES signatures on PDF files with the card's (or the phone's)
    /// signature key, and their verification.
    #[command(subcommand)]
    Pdf(crate::cmd::pdf::PdfCommand),
    /// SSH login with the card's authentication key: its authorized_keys
    /// line (the login itself goes through libjpki_pkcs11.so).
    #[command(subcommand)]
    Ssh(crate::cmd::desktop::SshCommand),
    /// Register the PKCS#11 module in Firefox's and Chrome's NSS databases.
    #[command(subcommand)]
    Nss(crate::cmd::desktop::NssCommand),
    /// Run an end-to-end demonstration (without a subcommand: the whole
    /// system, `jpki demo phone`).
    Demo(DemoCli),
    /// Measure throughput and latency (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The attack catalogue (docs/threat-model.md): list its sixteen
    /// patterns, or run them against a fresh deployment on loopback.
    #[command(subcommand)]
    Attack(AttackCommand),
    /// A launch day against a running deployment (`jpki serve all`): cards
    /// and phones, then phones signing with OCSP checks, new phones applying
    /// and holders revoking at a fixed rate; live rate and errors, then
    /// counts, errors and a latency histogram per kind.
    Load(crate::cmd::load::LoadArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(crate::cmd::shell::CompletionsArgs),
    /// Print the manual page (roff): `jpki man > jpki.1; man ./jpki.1`.
    Man,
    /// Print a service's OpenAPI document (generated from its handlers).
    Openapi(crate::cmd::shell::OpenapiArgs),
}
