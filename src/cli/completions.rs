//! `lts completions SHELL`: print a completion script.

use super::CliError;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(args: &CompletionsArgs) -> Result<(), CliError> {
    crate::docs::print_completions(args.shell, &mut std::io::stdout());
    Ok(())
}
