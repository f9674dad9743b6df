//! Private files: created `0600` with `O_EXCL` (never through an existing file or symlink),
//! replaced atomically (a `0600` sibling renamed over the target), and refused when group or
//! others can reach them. Directories are `0700`.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::LocalError;
use crate::random;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` and its missing parents with mode `0700`; an existing `dir` open to group or
/// others is refused.
pub(crate) fn private_dir(dir: &Path) -> Result<(), LocalError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let mode = fs::metadata(dir).map_err(io(dir))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(LocalError::DirectoryPermissions {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Writes a new file with mode `0600`; fails with [`LocalError::Exists`] if `path` exists
/// (a symlink included).
pub(crate) fn create_new(path: &Path, bytes: &[u8]) -> Result<(), LocalError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => LocalError::Exists {
                path: path.to_owned(),
            },
            _ => io(path)(e),
        })?;
    write_all_synced(&mut file, path, bytes)
}

/// Replaces `path` atomically: a fresh `0600` sibling is written and synced, then renamed over
/// `path`. A crash leaves either the old or the new content, never a mix.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), LocalError> {
    let tmp = sibling(path, "tmp")?;
    create_new(&tmp, bytes)?;
    rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Renames `from` over `to` and syncs the directory, so the rename survives a crash.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), LocalError> {
    fs::rename(from, to).map_err(io(to))?;
    if let Some(dir) = to.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Reads a private file; `Ok(None)` when it does not exist. A file that group or others can
/// read or write is refused, naming the file and the fix.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>, LocalError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    if !meta.is_file() {
        return Err(LocalError::StateFile {
            path: path.to_owned(),
            reason: "not a regular file".into(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(LocalError::Permissions {
            path: path.to_owned(),
            mode: meta.mode(),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(io(path))?;
    Ok(Some(bytes))
}

/// Removes a file; absent is fine.
pub(crate) fn remove(path: &Path) -> Result<(), LocalError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

fn write_all_synced(file: &mut File, path: &Path, bytes: &[u8]) -> Result<(), LocalError> {
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// `<name>.<tag>.<random>` next to `path`.
fn sibling(path: &Path, tag: &str) -> Result<PathBuf, LocalError> {
    let mut r = [0u8; 6];
    random::fill(&mut r)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(path.with_file_name(format!(
        ".{name}.{tag}.{}",
        agent_id_protocol::hex::encode(&r)
    )))
}
