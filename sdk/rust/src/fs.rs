//! Reading granted files and asking the host for file-system usage.

use crate::Error;
use std::io::ErrorKind;
use std::path::Path;

/// Filesystem usage of one mount point, from the host's `statvfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilesystemUsage {
    pub size_bytes: u64,
    pub free_bytes: u64,
    pub available_bytes: u64,
    pub files: u64,
    pub files_free: u64,
    pub read_only: bool,
}

/// The read-only paths the host granted this instance; natively, none.
pub fn granted_read_paths() -> Vec<String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::wasmetheus::plugin::host::granted_read_paths()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Vec::new()
    }
}

/// Whether `path` lies under one of `granted` (lexically: `..` never
/// climbs out of a grant).
fn is_under_grant(path: &Path, granted: &[String]) -> bool {
    if path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return false;
    }
    granted.iter().any(|g| path.starts_with(g))
}

/// Turns an I/O error on `path` into an [`Error`] that tells the operator
/// what to grant when the sandbox is the cause.
pub fn io_error(path: &Path, err: &std::io::Error) -> Error {
    let text = err.to_string();
    // WASI reports a path outside every preopen as absent; tell the two
    // apart by the grants (natively there is no sandbox to blame).
    let outside_grants =
        cfg!(target_arch = "wasm32") && !is_under_grant(path, &granted_read_paths());
    if err.kind() == ErrorKind::PermissionDenied
        || outside_grants
        || text.contains("pre-opened")
        || text.contains("not capable")
    {
        Error::Denied(format!(
            "read path {}: not granted (add a read_paths grant covering it): {text}",
            path.display()
        ))
    } else {
        Error::Unavailable(format!("{}: {text}", path.display()))
    }
}

/// Reads a whole file that lies under a granted read-only path.
pub fn read_to_string(path: impl AsRef<Path>) -> Result<String, Error> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|e| io_error(path, &e))
}

/// Asks the host for the usage of the file system mounted at `mount_point`.
/// Needs a `filesystem_usage` grant covering it; natively it is unavailable.
pub fn filesystem_usage(mount_point: &str) -> Result<FilesystemUsage, Error> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::wasmetheus::plugin::host::filesystem_usage(mount_point)
            .map(|u| FilesystemUsage {
                size_bytes: u.size_bytes,
                free_bytes: u.free_bytes,
                available_bytes: u.available_bytes,
                files: u.files,
                files_free: u.files_free,
                read_only: u.read_only,
            })
            .map_err(crate::wit::error_from_wit)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Err(Error::Unavailable(format!(
            "filesystem usage of {mount_point} needs the wasmetheus host"
        )))
    }
}
