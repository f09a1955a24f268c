//! `jpki attack`: the catalogue listed, every pattern run against a fresh
//! deployment in the process, the table printed, exit 0 when all held.

use crate::*;

#[test]
fn attack_run_all_attempts_sixteen_patterns_and_prints_each_refusal() {
    let o = run(jpki().args(["attack", "run", "all"]));
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("16 of 16 patterns attempted, 16 held."), "{out}");
    for n in 1..=16 {
        assert!(out.contains(&format!("Pattern {n:>2} — ")), "pattern {n} missing: {out}");
    }
    assert_eq!(out.matches(": HELD").count(), 16, "{out}");
    assert!(out.contains("  tried:   ") && out.contains("  refused: ") && out.contains("  mechanism: "), "{out}");
}

#[test]
fn attack_list_and_bad_selections() {
    let o = run(jpki().args(["--json", "attack", "list"]));
    assert!(o.status.success(), "{}", text(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let numbers: Vec<u64> = list.as_array().unwrap().iter().map(|p| p["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=16).collect::<Vec<u64>>());
    for bad in ["0", "17", "x", ""] {
        let o = run(jpki().args(["attack", "run", bad]));
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains("1 to 16"), "{bad}: {}", text(&o));
    }
}

#[test]
fn attack_run_one_pattern_as_json() {
    let o = run(jpki().args(["--json", "attack", "run", "6"]));
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["held"], true);
    let pattern = &report["patterns"][0];
    assert_eq!(pattern["pattern"]["number"], 6);
    assert_eq!(pattern["outcome"]["held"], true);
    assert_eq!(pattern["outcome"]["refusals"][0]["expected"], "assertion_missing");
    assert_eq!(pattern["outcome"]["refusals"][1]["expected"], "another_phone");
    assert_eq!(pattern["outcome"]["refusals"][2]["expected"], "403 commitment_mismatch");
}
