//! `--key-file PATH`: a key outside the per-server state directory, read and written under the
//! same rules as the library's own key files (created `0600` with `O_EXCL`, refused when group
//! or others can reach it, refused when altered) and reported with the library's error types.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use agent_id_client::{AgentKey, LocalError};
use zeroize::Zeroizing;

/// Loads the key at `path`.
pub fn load(path: &Path) -> Result<AgentKey, LocalError> {
    let io = |source| LocalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(|err| match err.kind() {
        ErrorKind::NotFound => LocalError::NoKey {
            path: path.to_owned(),
        },
        _ => io(err),
    })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(LocalError::KeyFile {
            path: path.to_owned(),
            reason: "not a regular file",
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(LocalError::Permissions {
            path: path.to_owned(),
            mode: meta.mode(),
        });
    }
    let mut text = Zeroizing::new(Vec::new());
    file.read_to_end(&mut text).map_err(io)?;
    AgentKey::from_private_jwk(&text).map_err(|err| LocalError::KeyFile {
        path: path.to_owned(),
        reason: err.reason(),
    })
}

/// Saves `key` to a new file at `path` (mode `0600`; an existing file is never overwritten).
pub fn save_new(path: &Path, key: &AgentKey) -> Result<(), LocalError> {
    let io = |source| LocalError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| match err.kind() {
            ErrorKind::AlreadyExists => LocalError::Exists {
                path: path.to_owned(),
            },
            _ => io(err),
        })?;
    file.write_all(key.to_private_jwk().as_bytes())
        .map_err(io)?;
    file.sync_all().map_err(io)
}
