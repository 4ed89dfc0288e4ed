//! `ltsd cert --out DIR`: a self-signed certificate and its key for a
//! cluster's TLS, made with `rcgen`. The certificate names localhost,
//! 127.0.0.1, ::1, this host and any `--san`; the key file is readable by its
//! owner only. Existing files are never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The certificate's file name in the output directory.
pub const CERT_FILE: &str = "cert.pem";
/// The key's file name in the output directory.
pub const KEY_FILE: &str = "key.pem";

#[derive(Debug, Error)]
pub enum CertError {
    /// Bad flags: exit 2.
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What `write` wrote.
#[derive(Debug)]
pub struct Written {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub names: Vec<String>,
}

/// The names the certificate is for: the defaults, this host, then `extra`, without repeats.
pub fn names(extra: &[String]) -> Result<Vec<String>, CertError> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    if !host.is_empty() && host.is_ascii() && !host.contains(char::is_whitespace) {
        names.push(host.to_ascii_lowercase());
    }
    for name in extra {
        let name = name.trim();
        if name.is_empty() || !name.is_ascii() || name.contains(char::is_whitespace) {
            return Err(CertError::Usage(format!(
                "--san '{name}': expected a host name or an IP address"
            )));
        }
        names.push(name.to_ascii_lowercase());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    Ok(names)
}

/// Make a self-signed pair for `names` and write it into `dir`.
pub fn write(dir: &Path, names: Vec<String>) -> Result<Written, CertError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    for path in [&cert_path, &key_path] {
        if path.exists() {
            return Err(CertError::Usage(format!(
                "{} already exists; remove it first, or choose another --out",
                path.display()
            )));
        }
    }
    let mut params = rcgen::CertificateParams::new(names.clone())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lts cluster node");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    // The key first, owner-only from its creation, so it is never readable by others.
    write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok(Written {
        cert: cert_path,
        key: key_path,
        names,
    })
}

/// Create `path` (never replacing a file) with `mode` and write `bytes` to it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CertError> {
    let error = |source| CertError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_start_with_loopback_and_have_no_repeats() {
        let names = names(&["Tracker.Example".into(), "localhost".into()]).unwrap();
        assert_eq!(&names[..3], ["localhost", "127.0.0.1", "::1"]);
        assert!(names.contains(&"tracker.example".to_string()));
        assert_eq!(names.iter().filter(|n| *n == "localhost").count(), 1);
        assert!(super::names(&["two words".into()]).is_err());
    }

    #[test]
    fn a_pair_loads_as_a_tls_server_and_a_trusted_ca() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), names(&[]).unwrap()).unwrap();
        crate::protocol::Security::none()
            .serving(&written.cert, &written.key)
            .unwrap()
            .trusting(&written.cert)
            .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&written.key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second run keeps the existing pair.
        assert!(matches!(
            write(dir.path(), names(&[]).unwrap()),
            Err(CertError::Usage(_))
        ));
    }
}
