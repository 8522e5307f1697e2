//! The one bounded file read every secret, header and certificate file
//! goes through: at most a given number of bytes are read (a larger file
//! is refused, not read whole). Callers wrap [`FileError`] with the
//! setting the path came from, so the user knows which field to fix.

use wasmetheus_config::limited::read_at_most;

/// The largest secret or header file read: a credential is a line.
pub const MAX_SECRET_FILE_BYTES: u64 = 1 << 20;

/// The largest certificate or key file read (a CA bundle of a few hundred
/// certificates is well below it).
pub const MAX_CERT_FILE_BYTES: u64 = 16 << 20;

/// Why a file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("larger than {0} bytes; the file must hold the value alone")]
    TooLarge(u64),
    #[error("not UTF-8 text")]
    NotUtf8,
}

/// Reads `path` whole, refusing a file larger than `limit` bytes (through
/// the configuration's one bounded reader). Blocking.
pub fn read_limited(path: &str, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = std::fs::File::open(path)?;
    read_at_most(file, limit)?.ok_or(FileError::TooLarge(limit))
}

/// A secret file's text as Prometheus uses it: read whole (at most
/// [`MAX_SECRET_FILE_BYTES`]), UTF-8, surrounding white space trimmed
/// (Go's `strings.TrimSpace`). Blocking.
pub fn read_secret_file(path: &str) -> Result<String, FileError> {
    let bytes = read_limited(path, MAX_SECRET_FILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| FileError::NotUtf8)?;
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let path_text = path.to_str().unwrap();
        std::fs::write(&path, vec![b'a'; 10]).unwrap();
        assert_eq!(read_limited(path_text, 10).unwrap().len(), 10);
        assert!(matches!(
            read_limited(path_text, 9),
            Err(FileError::TooLarge(9))
        ));
    }

    #[test]
    fn secrets_are_trimmed_and_must_be_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let path_text = path.to_str().unwrap();
        std::fs::write(&path, " \tsecret value\r\n\n").unwrap();
        assert_eq!(read_secret_file(path_text).unwrap(), "secret value");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            read_secret_file(path_text),
            Err(FileError::NotUtf8)
        ));
    }
}
