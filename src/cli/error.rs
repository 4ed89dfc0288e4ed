//! A failed `lts` command: the one line to print and the exit code SPEC
//! gives it.

use crate::client::ClientError;
use crate::protocol::registry::RegistryError;
use crate::protocol::WireError;
use crate::registry::RegistryClientError;
use std::fmt;

/// Exit codes, as SPEC defines them.
pub mod exit {
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_FOUND: u8 = 3;
    pub const UNREACHABLE: u8 = 4;
}

#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError::new(exit::USAGE, message)
    }

    /// The operation ran and failed (exit 1), with nothing more to print.
    pub fn silent_failure() -> Self {
        CliError::new(exit::FAILED, "")
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<WireError> for CliError {
    fn from(e: WireError) -> Self {
        let code = match &e {
            WireError::InvalidInput(_)
            | WireError::Ambiguous { .. }
            | WireError::KeyReused { .. } => exit::USAGE,
            WireError::NotFound { .. } | WireError::Missing(_) => exit::NOT_FOUND,
            WireError::ShuttingDown => exit::UNREACHABLE,
            WireError::Exists { .. } | WireError::Conflict(_) | WireError::Store(_) => exit::FAILED,
        };
        CliError::new(code, e.to_string())
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Wire(wire) => wire.into(),
            ClientError::Refused(_) => CliError::new(exit::FAILED, e.to_string()),
            ClientError::Unreachable { .. }
            | ClientError::Transport { .. }
            | ClientError::Discovery(_) => CliError::new(exit::UNREACHABLE, e.to_string()),
        }
    }
}

impl From<RegistryClientError> for CliError {
    fn from(e: RegistryClientError) -> Self {
        let code = match &e {
            RegistryClientError::Unreachable { .. } | RegistryClientError::Transport { .. } => {
                exit::UNREACHABLE
            }
            RegistryClientError::Refused { .. } => exit::FAILED,
            RegistryClientError::Registry { source, .. } => match source {
                RegistryError::InvalidInput(_) => exit::USAGE,
                RegistryError::Full(_) => exit::FAILED,
                RegistryError::ShuttingDown => exit::UNREACHABLE,
            },
        };
        CliError::new(code, e.to_string())
    }
}

/// Fields that make no job or change are bad input.
impl From<crate::jobline::FieldError> for CliError {
    fn from(e: crate::jobline::FieldError) -> Self {
        CliError::usage(e.0)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::new(exit::FAILED, e.to_string())
    }
}
