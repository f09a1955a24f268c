//! `jpki completions SHELL`, `jpki man` and `jpki openapi SERVICE`:
//! generated from the same definitions as `--help` (`clap_complete`,
//! `clap_mangen`) and as the handlers (`utoipa`), so they cannot drift.

use crate::cli::Cli;
use anyhow::Result;
use clap::{Args, CommandFactory};

/// `jpki completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for. Install, e.g. for bash:
    /// `jpki completions bash > ~/.local/share/bash-completion/completions/jpki`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for `a.shell`.
pub fn completions(a: &CompletionsArgs) -> Result<()> {
    clap_complete::generate(a.shell, &mut Cli::command(), "jpki", &mut std::io::stdout());
    Ok(())
}

/// Prints the man page (roff): `jpki man > jpki.1; man ./jpki.1`.
pub fn man() -> Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}

/// The services whose OpenAPI document `jpki openapi` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Service {
    /// The JPKI service.
    Jlis,
    /// The SEI-TSM.
    SeiTsm,
    /// The SP-TSM.
    SpTsm,
    /// The remote signing service (CSC API).
    Rssp,
}

/// `jpki openapi`
#[derive(Debug, Args)]
pub struct OpenapiArgs {
    /// Whose API.
    #[arg(value_enum)]
    pub service: Service,
}

/// Prints a service's OpenAPI 3.1 document (as `GET /openapi.json` serves
/// it), generated from its handlers and body types.
pub fn openapi(a: &OpenapiArgs) -> Result<()> {
    let doc = match a.service {
        Service::Jlis => jlis::http::openapi_document(),
        Service::SeiTsm => sei_tsm::http::openapi_document(),
        Service::SpTsm => sp_tsm::http::openapi_document(),
        Service::Rssp => rssp::http::openapi_document(),
    };
    crate::output::json(&doc)
}
