//! Prometheus' `config.JoinDir`: relative file paths in a config joined
//! with the directory of the file they were read from, cleaned as Go's
//! `filepath` does.

use std::path::Path;

/// Prometheus' `config.JoinDir`: a relative path joined to `dir` (the
/// directory of the file it was read from) and cleaned as Go's
/// `filepath.Join` does; an empty or absolute path as it is.
pub fn join_dir(dir: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_owned();
    }
    let dir = dir.to_string_lossy();
    if dir.is_empty() {
        return wasmetheus_model::go::clean_path(path);
    }
    wasmetheus_model::go::clean_path(&format!("{dir}/{path}"))
}

pub(crate) fn join_opt(dir: &Path, path: &mut Option<String>) {
    if let Some(path) = path {
        *path = join_dir(dir, path);
    }
}

pub(crate) fn join(dir: &Path, path: &mut String) {
    *path = join_dir(dir, path);
}

#[cfg(test)]
mod tests {
    use super::join_dir;
    use std::path::Path;

    #[test]
    fn relative_paths_are_joined_and_cleaned_as_go_does() {
        assert_eq!(join_dir(Path::new("conf"), "../x"), "x");
        assert_eq!(join_dir(Path::new("."), "a"), "a");
        assert_eq!(join_dir(Path::new(""), "a"), "a");
        assert_eq!(join_dir(Path::new("conf"), ""), "");
        assert_eq!(join_dir(Path::new("a"), "../../b"), "../b");
    }
}
