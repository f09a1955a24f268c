//! Command implementations, one module per command group, each holding
//! its arguments and its `run`.

pub mod attack;
pub mod audit;
pub mod card;
pub mod cms;
pub mod desktop;
pub mod load;
pub mod operator;
pub mod pdf;
pub mod phone;
pub mod rssp;
pub mod se;
pub mod serve;
pub mod shell;

use crate::cli::{Cli, Command};
use anyhow::{Context, Result};

pub use attack::Breached;

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Card(c) => card::run(c, json),
        Command::Cms(c) => cms::run(c, json),
        Command::Se(c) => se::run(c, json),
        Command::Phone(c) => phone::run(c, json),
        Command::Serve(c) => serve::run(c, json),
        Command::Audit(c) => audit::run(c, json),
        Command::Operator(c) => operator::run(&c, json),
        Command::Rssp(c) => rssp::run(c, json),
        Command::Ssh(c) => desktop::run_ssh(c, json),
        Command::Pdf(c) => pdf::run(c, json),
        Command::Nss(c) => desktop::run_nss(c, json),
        Command::Demo(d) => crate::demo::run(d, json),
        Command::Bench(c) => crate::bench::run(c, json),
        Command::Attack(c) => attack::run(c, json),
        Command::Load(a) => load::run(&a, json),
        Command::Completions(a) => shell::completions(&a),
        Command::Man => shell::man(),
        Command::Openapi(a) => shell::openapi(&a),
    }
}

/// A multi-threaded runtime for the services and their clients.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Maps the CLI's key names to the library's.
pub fn key_type(k: crate::args::KeyName) -> jpki::KeyType {
    match k {
        crate::args::KeyName::Auth => jpki::KeyType::Auth,
        crate::args::KeyName::Sign => jpki::KeyType::Sign,
    }
}
