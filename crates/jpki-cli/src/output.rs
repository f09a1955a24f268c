//! Writing results: to a file or standard output, as text or JSON.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Writes bytes to `path`, or to standard output for `None` or "-".
pub fn write_out(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(p) if p != Path::new("-") => std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display())),
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// Reads a file, or standard input for "-".
pub fn read_in(path: &Path) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Prints a value as pretty JSON.
pub fn json(value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_out(None, text.as_bytes())
}

/// Prints a line of text.
pub fn line(text: impl std::fmt::Display) -> Result<()> {
    write_out(None, format!("{text}\n").as_bytes())
}

/// Hex with spaces between bytes (ATRs).
pub fn spaced_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
}
