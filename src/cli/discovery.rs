//! `lts --mdns`: browse the local network for trackers before a command,
//! and say clearly when none answered.

use super::error::exit;
use super::CliError;
use crate::discovery::{mdns, Discovery};
use std::time::Duration;

/// How long to wait for the first tracker to answer.
const FIND_WITHIN: Duration = Duration::from_secs(5);
/// How long to listen for more after the first.
const SETTLE: Duration = Duration::from_millis(300);

/// The addresses of the trackers that answer by mDNS.
pub async fn find_trackers() -> Result<Vec<String>, CliError> {
    let trackers = Discovery::Mdns
        .start()
        .map_err(|e| CliError::new(exit::UNREACHABLE, e.to_string()))?;
    let found = trackers.wait_for_any(FIND_WITHIN, SETTLE).await;
    if found.is_empty() {
        return Err(CliError::new(
            exit::UNREACHABLE,
            format!(
                "no tracker found by mDNS ({}) within {}s; start one with `ltsd tracker --mdns`",
                mdns::SERVICE_TYPE,
                FIND_WITHIN.as_secs()
            ),
        ));
    }
    Ok(found)
}
