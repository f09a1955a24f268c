//! What the two TSMs' configuration files share: reading, paths relative
//! to the file, and the error that names the key to fix.

use std::path::{Path, PathBuf};

/// The file's text.
pub fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `p` relative to `base` when it is relative.
pub fn absolute(base: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}

/// A `sqlite://` URL with a relative path made relative to `base`.
pub fn database(base: &Path, url: &mut String) {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        if Path::new(rest).is_relative() {
            *url = format!("sqlite://{}", base.join(rest).display());
        }
    }
}

/// Each named file must exist; the error names the key in `file`.
pub fn must_exist(file: &Path, files: &[(&str, &PathBuf)]) -> Result<(), String> {
    for (key, p) in files {
        if !p.is_file() {
            return Err(format!("{}: {key} = {} does not exist", file.display(), p.display()));
        }
    }
    Ok(())
}

/// Makes each named file's path relative to `file`'s directory (when it
/// is relative) and checks that it exists; the error names the key.
pub fn resolve_files(file: &Path, files: &mut [(&str, &mut PathBuf)]) -> Result<(), String> {
    let base = file.parent().unwrap_or(Path::new("."));
    for (key, p) in files.iter_mut() {
        absolute(base, p);
        must_exist(file, &[(key, p)])?;
    }
    Ok(())
}

/// Seconds a flow waits for the phone's next response, by default.
pub fn default_relay_timeout() -> u64 {
    30
}
