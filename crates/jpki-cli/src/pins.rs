//! Getting PINs from the user: a prompt without echo, a file, or the
//! environment for scripts — never from the command line.

use crate::args::PinArgs;
use anyhow::{bail, Context, Result};
use apdu::Transport;
use jpki::{JpkiCard, PinId};
use std::io::IsTerminal;
use zeroize::Zeroizing;

fn env_name(pin: PinId) -> &'static str {
    match pin {
        PinId::Auth => "JPKI_AUTH_PIN",
        PinId::Sign => "JPKI_SIGN_PIN",
        PinId::Text => "JPKI_TEXT_PIN",
    }
}

fn first_line(path: &std::path::Path) -> Result<Zeroizing<String>> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).with_context(|| format!("reading PIN file {}", path.display()))?);
    Ok(Zeroizing::new(text.lines().next().unwrap_or("").trim_end().to_string()))
}

/// The PIN from `--pin-file`, the environment, or a prompt.
pub fn get(pin: PinId, args: &PinArgs) -> Result<Zeroizing<String>> {
    if let Some(path) = &args.pin_file {
        return first_line(path);
    }
    if let Ok(v) = std::env::var(env_name(pin)) {
        return Ok(Zeroizing::new(v));
    }
    prompt(&format!("Enter the {}: ", pin.describe()), pin)
}

fn prompt(text: &str, pin: PinId) -> Result<Zeroizing<String>> {
    if !std::io::stdin().is_terminal() {
        bail!("the {} is needed: pass --pin-file FILE or set {}", pin.describe(), env_name(pin));
    }
    Ok(Zeroizing::new(rpassword::prompt_password(text).context("reading the PIN")?))
}

/// A new PIN from `--new-pin-file`, `JPKI_NEW_PIN`, or asked twice.
pub fn get_new(pin: PinId, file: Option<&std::path::Path>) -> Result<Zeroizing<String>> {
    get_new_from(pin, file, "JPKI_NEW_PIN")
}

/// A new PIN from `file`, the environment variable `env`, or asked twice.
pub fn get_new_from(pin: PinId, file: Option<&std::path::Path>, env: &str) -> Result<Zeroizing<String>> {
    if let Some(path) = file {
        return first_line(path);
    }
    if let Ok(v) = std::env::var(env) {
        return Ok(Zeroizing::new(v));
    }
    let first = prompt(&format!("New {}: ", pin.describe()), pin)?;
    let again = prompt("Repeat it: ", pin)?;
    if first != again {
        bail!("the two new PINs differ; nothing was changed");
    }
    Ok(first)
}

/// Verifies `pin` on the card: refuses to send anything to a blocked PIN,
/// warns before the last try.
pub fn verify<T: Transport>(card: &mut JpkiCard<T>, pin: PinId, args: &PinArgs) -> Result<()> {
    let left = card.pin_tries_left(pin)?;
    if left == 0 {
        return Err(jpki::Error::PinBlocked { pin }.into());
    }
    if left == 1 {
        eprintln!("jpki: warning: one try left for the {}; a wrong PIN now blocks it", pin.describe());
    }
    let value = get(pin, args)?;
    card.verify(pin, &value)?;
    Ok(())
}

/// Whether a new PIN can be had without failing: `env` is set or someone
/// is at the terminal.
pub fn new_pin_available(env: &str) -> bool {
    std::env::var_os(env).is_some() || std::io::stdin().is_terminal()
}
