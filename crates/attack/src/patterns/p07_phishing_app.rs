//! Pattern 7 — a fake app phishes the holder (⑦).
//!
//! The phishing app cannot reach the applet itself (pattern 1), so it
//! goes through the JPKI app's intent API: it asks to apply for or revoke
//! phone certificates — never allowed from another app — and it asks for a
//! signature hoping the holder thinks the JPKI app is asking. The prompt
//! names the real caller, and a holder who declines gives nothing away.

use crate::lab::{rogue_app, se_snapshot, Lab};
use crate::{Attempts, Breach, Refusal};
use phone::app::Intent;
use std::cell::RefCell;

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let app = lab.provisioned_phone(&mut card).await?;
    let phisher = rogue_app("jp.go.jpki.app.update");
    let before = se_snapshot(&app);
    let mut a = Attempts::default();
    let asked = RefCell::new(Vec::new());
    let holder_declines = |prompt: &phone::app::Prompt| {
        asked.borrow_mut().push(prompt.caller.clone());
        None
    };

    let r = app.handle_intent(&phisher, Intent::Apply, holder_declines).map(|_| ());
    a.refused(
        "a phishing app starts an application for phone certificates",
        "can only be started by the user in the JPKI app",
        r,
    )?;
    let r = app.handle_intent(&phisher, Intent::Revoke, holder_declines).map(|_| ());
    a.refused("a phishing app starts a revocation", "can only be started by the user in the JPKI app", r)?;
    let r = app.handle_intent(&phisher, Intent::Sign(b"transfer 1,000,000 JPY".to_vec()), holder_declines).map(|_| ());
    a.refused("a phishing app asks for a signature; the holder sees who asks and declines", "the user declined", r)?;
    let shown = asked.borrow().clone();
    a.saw("the name the holder was shown", "jp.go.jpki.app.update", shown.join(", "))?;
    if shown.iter().any(|c| c == "jp.go.jpki.app") {
        return Err(Breach::Succeeded { tried: "phishing".into(), what: "the prompt named the JPKI app".into() });
    }
    let lookalike = phone::App::new("jp.go.jpki.app", b"the phisher's signing certificate".to_vec());
    let r = phone::device::JpkiApplet::open(&app.se_service(), &lookalike).map(|_| ());
    a.refused("an app wearing the JPKI app's package name opens the applet", "access denied", r)?;
    a.unchanged("the phishing app", "the SE's state (PIN counters, keys)", &before, &se_snapshot(&app))?;
    a.done()
}
