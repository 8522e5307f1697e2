//! Reading procfs and sysfs: whole files, files that may be absent, single
//! numbers and directory listings, with errors that name the path.

use std::io::ErrorKind;
use std::path::Path;
use wasmetheus_sdk::Error;
use wasmetheus_sdk::fs::io_error;

/// Reads a whole file; a missing grant becomes [`Error::Denied`].
pub fn read(path: &Path) -> Result<String, Error> {
    wasmetheus_sdk::fs::read_to_string(path)
}

/// Reads a file that need not exist (e.g. counters only some hardware has):
/// `None` when it does not, an error for anything else.
pub fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error(path, &err)),
    }
}

/// Reads a sysfs attribute holding one unsigned number.
pub fn read_u64(path: &Path) -> Result<u64, Error> {
    let text = read(path)?;
    text.trim()
        .parse()
        .map_err(|_| Error::Other(format!("{}: not a number: {text:?}", path.display())))
}

/// The names in a directory, sorted like a shell glob sorts them; `None`
/// when the directory does not exist (e.g. on older kernels).
pub fn list_dir_optional(path: &Path) -> Result<Option<Vec<String>>, Error> {
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_error(path, &err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(path, &e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(Some(names))
}

/// Parses one number of a /proc file, saying where it came from on failure.
pub fn number<T: std::str::FromStr>(field: &str, what: &str) -> Result<T, Error> {
    field
        .parse()
        .map_err(|_| Error::Other(format!("invalid {what}: {field:?}")))
}
