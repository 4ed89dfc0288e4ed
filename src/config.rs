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
        Ok(text) => toml::from_str(&text).map_err(|e| describe_error(&path, &text, &e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(format!("config file {}: {e}", path.display())),
    }
}

/// A config file's parse error as one line that names the line and its key,
/// never the value: the line may hold the token. The parser's own message
/// is cut, since it may quote the input.
fn describe_error(path: &std::path::Path, text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map_or(String::new(), |span| {
        let start = span.start.min(text.len());
        let line = text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        let key = text
            .lines()
            .nth(line)
            .and_then(|l| l.split_once('='))
            .map(|(key, _)| key.trim())
            .filter(|key| {
                !key.is_empty()
                    && key.len() <= 40
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            });
        match key {
            Some(key) => format!(" line {} (key `{key}`):", line + 1),
            None => format!(" line {}:", line + 1),
        }
    });
    let message = e.message();
    // The parser quotes what it read for some errors; never echo a value.
    let message = match message.find('`') {
        Some(i) => message[..i].trim_end().trim_end_matches(':'),
        None => message,
    };
    format!(
        "config file {}:{at} {}",
        path.display(),
        crate::model::cut(message.trim(), 120)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-t0ken-value-xyz";

    fn error_for(text: &str) -> String {
        let e = toml::from_str::<FileConfig>(text).expect_err("malformed");
        describe_error(std::path::Path::new("/etc/lts/config.toml"), text, &e)
    }

    #[test]
    fn a_malformed_line_is_named_by_its_key_never_echoed() {
        for text in [
            format!("tracker = \"127.0.0.1:7420\"\ntoken = \"{SECRET}\n"),
            format!("token = {SECRET}\n"),
            format!("token = \"{SECRET}\" trailing\n"),
            format!("token = [\"{SECRET}\"]\n"),
            format!("tokn = \"{SECRET}\"\n"),
            format!("token \"{SECRET}\"\n"),
            format!("{SECRET}\n"),
        ] {
            let shown = error_for(&text);
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(!shown.contains("t0ken"), "no part of it either: {shown}");
            assert_eq!(shown.lines().count(), 1, "{shown}");
            assert!(shown.contains("line "), "{shown}");
        }
        let shown = error_for(&format!("tracker = \"x\"\ntoken = {SECRET}\n"));
        assert!(shown.contains("line 2 (key `token`)"), "{shown}");
    }
}
