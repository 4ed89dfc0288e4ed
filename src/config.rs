//! Where settings come from when a flag does not say: environment variables
//! (`LTS_TRACKER`, `LTS_TOKEN`, `LTS_TLS_CA`, `LTS_DATA`, ..) are read by clap; after them
//! comes the config file `lts/config.toml` in the platform config dir; after
//! that, the defaults below.

use serde::Deserialize;
use std::path::PathBuf;

/// The tracker's default listen address.
pub const DEFAULT_TRACKER: &str = "127.0.0.1:7420";
/// Where a tracker serves its console and HTTP API unless told otherwise.
pub const DEFAULT_HTTP: &str = "127.0.0.1:7421";
/// The registry's default listen address.
pub const DEFAULT_REGISTRY: &str = "127.0.0.1:7410";

/// The keys the config file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub tracker: Option<String>,
    pub registry: Option<String>,
    pub token: Option<String>,
    /// The PEM certificate or CA to trust when dialing over TLS.
    pub tls_ca: Option<PathBuf>,
    /// The balancing policy over several trackers: random, round-robin, first.
    pub balance: Option<crate::balance::Policy>,
    /// The client node group `lts feedback` reads when none is named.
    pub client_group: Option<String>,
}

/// The config file's path, whether or not it exists.
pub fn config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("lts").join("config.toml"))
}

/// Read the config file; a missing file is an empty config, a malformed one
/// is an error naming the file.
pub fn load_file_config() -> Result<FileConfig, String> {
    let Some(path) = config_path() else {
        return Ok(FileConfig::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| {
            // Name the line, so that a bad value is found with its key.
            let at = e.span().map_or(String::new(), |span| {
                let line = text[..span.start.min(text.len())].matches('\n').count();
                let shown = text.lines().nth(line).unwrap_or_default().trim();
                format!(" line {} (`{shown}`):", line + 1)
            });
            format!("config file {}:{at} {}", path.display(), e.message())
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(format!("config file {}: {e}", path.display())),
    }
}

/// The data dir: `LTS_DATA` (handled by clap), else the platform data dir + `lts`.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("lts")
}

/// A registry address as `--registry` takes it: HOST:PORT.
pub fn check_registry(addr: &str) -> Result<String, String> {
    let addr = addr.trim();
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(addr.into()),
        _ => Err(format!(
            "--registry {addr}: expected HOST:PORT, e.g. 127.0.0.1:7410"
        )),
    }
}

/// Split a comma-separated address list, dropping blanks.
pub fn split_addrs(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect()
}
