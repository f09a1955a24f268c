//! Commands, outputs and errors.

use crate::*;

#[test]
fn help_explains_every_command() {
    let o = run(jpki().arg("--help"));
    assert!(o.status.success());
    let t = text(&o);
    for word in ["card", "cms", "demo", "bench"] {
        assert!(t.contains(word), "{t}");
    }
    let o = run(jpki().args(["card", "sign", "--help"]));
    assert!(text(&o).contains("--pin-file"));
}

#[test]
fn usage_errors_exit_2() {
    let o = run(jpki().args(["card", "cert", "--type", "nonsense"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn errors_are_one_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let o = run(jpki().args(["card", "status", "--card"]).arg(&missing));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("jpki: error: cannot open card file"), "{err}");
    assert!(err.contains("jpki card new"), "says what to do next: {err}");
}

#[test]
fn card_new_refuses_to_overwrite_without_force_and_checks_input() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let before = std::fs::read(&card).unwrap();
    let o = run(jpki().args(["card", "new", "--ca-dir"]).arg(ca_dir()).arg("--out").arg(&card));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--force"));
    assert_eq!(std::fs::read(&card).unwrap(), before, "card untouched");
    for (flag, value, says) in [
        ("--my-number", "123456789012", "check digit"),
        ("--birth", "1985-04-01", "YYYYMMDD"),
        ("--auth-pin", "12345", "4 digits"),
        ("--sign-pin", "abcdef", "at least one of each"),
        ("--sex", "x", "sex"),
    ] {
        let out = dir.path().join("new.json");
        let o = run(jpki().args(["card", "new", "--ca-dir"]).arg(ca_dir()).arg("--out").arg(&out).args([flag, value]));
        assert_eq!(o.status.code(), Some(2), "{flag}");
        assert!(text(&o).contains(says), "{flag}: {}", text(&o));
        assert!(!out.exists());
    }
}

#[test]
fn status_json_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let o = run(jpki().args(["--json", "card", "status", "--card"]).arg(&card));
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("\"token\": \"card\""), "{t}");
    assert!(t.contains("\"atr\": \"3B E0 00 FF 81 31 FE 45 14\""), "{t}");
    assert!(t.contains("\"tries_left\": 5"), "{t}");
}

#[test]
fn pins_come_from_files_or_environment_never_argv() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    // No terminal, no file, no environment: refuse with what to do.
    let o = run(jpki().args(["card", "cert", "-t", "sign", "--card"]).arg(&card));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("JPKI_SIGN_PIN"), "{}", text(&o));
    let pin = dir.path().join("pin");
    std::fs::write(&pin, "abc123\n").unwrap();
    let o =
        run(jpki().args(["card", "cert", "-t", "sign", "-f", "text", "--pin-file"]).arg(&pin).arg("--card").arg(&card));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Name:"), "{}", text(&o));
    let o = run(jpki().env("JPKI_TEXT_PIN", "1234").args(["--json", "card", "text", "mynumber", "--card"]).arg(&card));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("\"my_number\""));
}

#[test]
fn wrong_pin_reports_tries_and_blocked_pin_says_how_to_unblock() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let input = dir.path().join("in.txt");
    std::fs::write(&input, b"x").unwrap();
    let out = dir.path().join("sig");
    let sign = |pin: &str| {
        run(jpki()
            .env("JPKI_AUTH_PIN", pin)
            .args(["card", "sign", "-t", "auth", "--card"])
            .arg(&card)
            .arg(&input)
            .arg("-o")
            .arg(&out))
    };
    let o = sign("0000");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("2 tries left"), "{}", text(&o));
    sign("0000");
    let o = sign("0000");
    assert!(text(&o).contains("blocked"), "{}", text(&o));
    let o = sign("1234");
    assert!(text(&o).contains("municipal office"), "{}", text(&o));
    assert!(!out.exists());
}

#[test]
fn pin_change_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let o = run(jpki()
        .env("JPKI_SIGN_PIN", "ABC123")
        .env("JPKI_NEW_PIN", "NEWPASS9")
        .args(["card", "pin", "change", "sign", "--card"])
        .arg(&card));
    assert!(o.status.success(), "{}", text(&o));
    let o = run(jpki().env("JPKI_SIGN_PIN", "newpass9").args(["card", "cert", "-t", "sign", "--card"]).arg(&card));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn cms_sign_and_verify_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let doc = dir.path().join("doc.txt");
    std::fs::write(&doc, "申請書\n").unwrap();
    let p7 = dir.path().join("doc.p7s");
    let o = run(jpki()
        .env("JPKI_SIGN_PIN", "ABC123")
        .args(["cms", "sign", "--detached", "--format", "pem", "--card"])
        .arg(&card)
        .arg(&doc)
        .arg("-o")
        .arg(&p7));
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read_to_string(&p7).unwrap().starts_with("-----BEGIN CMS-----"));
    let o = run(jpki()
        .args(["--json", "cms", "verify"])
        .arg(&p7)
        .arg("--content")
        .arg(&doc)
        .arg("--ca")
        .arg(ca_dir().join("sign-ca.pem")));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("\"valid\": true"));
    // The wrong CA and a changed document are refused with exit 2.
    let o = run(jpki()
        .args(["cms", "verify"])
        .arg(&p7)
        .arg("--content")
        .arg(&doc)
        .arg("--ca")
        .arg(ca_dir().join("auth-ca.pem")));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    std::fs::write(&doc, "改ざん\n").unwrap();
    let o = run(jpki()
        .args(["cms", "verify"])
        .arg(&p7)
        .arg("--content")
        .arg(&doc)
        .arg("--ca")
        .arg(ca_dir().join("sign-ca.pem")));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("message digest"), "{}", text(&o));
}

#[test]
fn demo_card_passes() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(jpki().args(["--json", "demo", "card", "--dir"]).arg(dir.path()));
    assert!(o.status.success(), "{}", text(&o));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("\"ok\": true"));
    assert!(!t.contains("\"ok\": false"));
}

#[test]
fn demo_runs_the_whole_system_and_every_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(jpki().args(["--json", "demo", "--dir"]).arg(dir.path()));
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 12, "{v}");
    assert!(steps.iter().all(|s| s["ok"] == true), "{v}");
    assert!(dir.path().join("sp-tsm.toml").is_file() && dir.path().join("jlis.sqlite").is_file());
}

#[test]
fn broken_pipe_is_success() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let mut child = jpki()
        .args(["card", "cert", "-t", "auth-ca", "-f", "text", "--card"])
        .arg(&card)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bench_issuance_reports_each_round_beside_openssl() {
    let o = run(jpki().args(["--json", "bench", "issuance", "--count", "12", "--rounds", "2", "--concurrency", "4"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2);
    for round in rounds {
        assert_eq!(round["issued"], 6, "every phone certificate of the round was issued: {round}");
        assert!(round["openssl_sign_per_s_all_cores"].as_f64().unwrap() > 0.0, "{round}");
        assert!(round["ratio"].as_f64().unwrap() > 0.0, "{round}");
    }
    assert!(report["median_ratio"].as_f64().is_some(), "{report}");
    let o = run(jpki().args(["bench", "issuance", "--rounds", "0"]));
    assert_eq!(o.status.code(), Some(2), "zero rounds is refused");
}

/// `jpki bench hsm`: the same issuance with the CA keys in a SoftHSM2 token
/// and in software, each round both, and the ratio.
#[test]
fn bench_hsm_issues_under_both_key_stores_and_reports_the_ratio() {
    let o = run(jpki().args(["--json", "bench", "hsm", "--count", "6", "--rounds", "2", "--concurrency", "3"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["rounds"].as_array().unwrap().len(), 2, "{report}");
    for field in ["median_software_per_s", "median_hsm_per_s", "median_ratio"] {
        assert!(report[field].as_f64().unwrap() > 0.0, "{field}: {report}");
    }
    assert!(report["module"].as_str().unwrap().ends_with("libsofthsm2.so"), "{report}");
}

/// `-vvv` traces every APDU, but the My Number read from the card shows
/// only as its length unless `--trace-personal-data` asks for it (issue
/// 15); the PIN never shows.
#[test]
fn the_apdu_trace_leaves_out_the_my_number_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let card = copy_card(dir.path());
    let read = |extra: &[&str]| {
        let o = run(jpki()
            .env("JPKI_TEXT_PIN", "1234")
            .args(["-vvv", "--json", "card", "text", "mynumber", "--card"])
            .arg(&card)
            .args(extra));
        assert!(o.status.success(), "{}", text(&o));
        let answer: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let my_number = answer["my_number"].as_str().unwrap().to_string();
        (my_number, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (my_number, trace) = read(&[]);
    // The card answers in chunks: look for the first and the last digits.
    let (head, tail) = my_number.as_bytes().split_at(5);
    let (head, tail) = (hex::encode_upper(head), hex::encode_upper(tail));
    assert!(trace.contains("> 00A4040C0AD3921000310001010408"), "the trace runs: {trace}");
    assert!(!trace.contains(&head) && !trace.contains(&tail) && !trace.contains(&my_number), "{trace}");
    assert!(trace.contains("bytes of personal data; --trace-personal-data shows them"), "{trace}");
    assert!(trace.contains("<PIN REDACTED>") && !trace.contains("31323334"), "{trace}");
    let (_, asked) = read(&["--trace-personal-data"]);
    assert!(asked.contains(&head) && !asked.contains("bytes of personal data"), "{asked}");
}

/// `jpki completions SHELL` prints a script the shell accepts, naming the
/// commands; `jpki man` prints a roff page; an unknown shell is a usage
/// error (exit 2) naming the ones there are.
#[test]
fn completions_and_the_man_page_come_from_the_command_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(jpki().args(["completions", "bash"]));
    assert!(o.status.success(), "{}", text(&o));
    let script = dir.path().join("jpki.bash");
    std::fs::write(&script, &o.stdout).unwrap();
    let checked = std::process::Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(checked.status.success(), "bash -n: {}", String::from_utf8_lossy(&checked.stderr));
    let script = String::from_utf8(o.stdout).unwrap();
    assert!(script.contains("complete -F") && script.contains("serve") && script.contains("--trace-personal-data"));
    for shell in ["zsh", "fish"] {
        let o = run(jpki().args(["completions", shell]));
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("jpki"), "{shell}");
    }
    let o = run(jpki().arg("man"));
    let page = String::from_utf8(o.stdout).unwrap();
    assert!(o.status.success() && page.contains(".TH jpki 1") && page.contains("completions"), "{page}");
    let o = run(jpki().args(["completions", "tcsh"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("possible values: bash"), "{}", text(&o));
}
