//! Pattern 15: tampering with business processing. Before the fix, anyone
//! with an application id could resume it (and drive it to `refused`), and
//! relay sessions were a process prefix and a counter.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sp_tsm_state_machine_moves_only_for_its_applicant() {
    super::attack(
        15,
        &[
            "403 not_applicant",
            "403 not_applicant",
            "assertion_missing",
            "assertion_signature",
            "404 unknown_session",
            "404 unknown_session",
            "404 unknown_session",
            "64 hex digits",
            "403 unknown_nonce",
            "409 not_resumable",
            "the audit log was cut",
            "the audit log was rewritten",
        ],
    )
    .await;
}
