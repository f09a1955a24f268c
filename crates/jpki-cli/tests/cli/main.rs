//! The `jpki` binary as a user and a script see it.
#![allow(missing_docs)]

mod attack;
mod commands;
mod durability;
mod jlis;
mod pdf;
mod phone;
mod rssp;
mod se;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn jpki() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jpki"));
    for v in
        ["JPKI_CARD", "JPKI_READER", "JPKI_AUTH_PIN", "JPKI_SIGN_PIN", "JPKI_TEXT_PIN", "JPKI_NEW_PIN", "JPKI_FAULT"]
    {
        c.env_remove(v);
    }
    c
}

pub fn run(c: &mut Command) -> Output {
    c.stdin(std::process::Stdio::null()).output().expect("jpki runs")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A card file made once by `jpki card new`; tests copy it.
pub fn card_template() -> &'static (tempfile::TempDir, PathBuf) {
    static CARD: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    CARD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let card = dir.path().join("card.json");
        let o = run(jpki().args(["card", "new", "--ca-dir"]).arg(dir.path().join("ca")).arg("--out").arg(&card));
        assert!(o.status.success(), "{}", text(&o));
        (dir, card)
    })
}

pub fn copy_card(to: &Path) -> PathBuf {
    let dest = to.join("card.json");
    std::fs::copy(&card_template().1, &dest).unwrap();
    dest
}

pub fn ca_dir() -> PathBuf {
    card_template().0.path().join("ca")
}
