//! `jpki completions SHELL` and `jpki man`: generated from the same
//! definitions as `--help` (`clap_complete`, `clap_mangen`), so they cannot
//! drift from the commands.

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
