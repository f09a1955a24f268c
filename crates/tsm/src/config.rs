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

/// A TSM's key is in a file (`file_key`) or in a PKCS#11 token
/// (`[pkcs11]`), never both nor neither: resolves and checks the one named.
pub fn one_key_source(
    file: &Path,
    file_key: &str,
    key_file: Option<&mut PathBuf>,
    token: Option<&mut hsm::Pkcs11Config>,
) -> Result<(), String> {
    match (key_file, token) {
        (Some(key), None) => resolve_files(file, &mut [(file_key, key)]),
        (None, Some(token)) => resolve_files(file, &mut [("pkcs11.pin_file", &mut token.pin_file)]),
        _ => Err(format!(
            "{}: the key is in {file_key} or in a PKCS#11 token ([pkcs11]): name exactly one",
            file.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both key sources, or none, is refused with the key to fix; one is
    /// resolved beside the configuration file.
    #[test]
    fn a_key_is_in_a_file_or_a_token_never_both_nor_neither() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tsm.toml");
        std::fs::write(dir.path().join("k.key"), "00").unwrap();
        std::fs::write(dir.path().join("hsm.pin"), "1234").unwrap();
        let token = || hsm::Pkcs11Config { module: "m.so".into(), token: "t".into(), pin_file: "hsm.pin".into() };
        for (file, pkcs11) in [(Some(PathBuf::from("k.key")), Some(token())), (None, None)] {
            let (mut file, mut pkcs11) = (file, pkcs11);
            let e = one_key_source(&config, "vault_key_file", file.as_mut(), pkcs11.as_mut()).unwrap_err();
            assert!(e.contains("vault_key_file") && e.contains("exactly one"), "{e}");
        }
        let mut pkcs11 = token();
        one_key_source(&config, "vault_key_file", None, Some(&mut pkcs11)).unwrap();
        assert_eq!(pkcs11.pin_file, dir.path().join("hsm.pin"));
        let mut missing = PathBuf::from("missing.key");
        assert!(one_key_source(&config, "vault_key_file", Some(&mut missing), None)
            .unwrap_err()
            .contains("vault_key_file"));
    }
}
