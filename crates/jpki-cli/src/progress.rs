//! Progress bars on long work (attack runs, benchmarks), with indicatif:
//! on standard error, drawn only when it is a terminal and never with
//! `--json`, so scripts and logs see no escape sequences.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A bar of `len` steps saying `what`; hidden when stderr is not a
/// terminal or the output is JSON (callers then print plain lines).
pub fn bar(len: u64, what: &str, json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = "{msg} [{bar:32}] {pos}/{len} · {elapsed} · {per_sec} · eta {eta}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Says `line` above `bar` when it is drawn, on standard error when it is
/// hidden off a terminal, and nothing with `--json`.
pub fn say(bar: &ProgressBar, json: bool, line: &str) {
    if !bar.is_hidden() {
        bar.println(line);
    } else if !json {
        eprintln!("{line}");
    }
}

/// A spinner whose message the caller keeps current (a live rate); hidden
/// like [`bar`].
pub fn spinner(json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner();
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner
}

#[cfg(test)]
mod tests {
    /// Under a test runner stderr is a pipe: no bar is drawn (scripts and
    /// CI logs get plain lines), and `--json` never draws one.
    #[test]
    fn no_bar_is_drawn_off_a_terminal_or_with_json() {
        assert!(super::bar(10, "work", true).is_hidden());
        assert!(!std::io::IsTerminal::is_terminal(&std::io::stderr()) || !super::bar(10, "work", false).is_hidden());
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            assert!(super::bar(10, "work", false).is_hidden());
        }
    }
}
