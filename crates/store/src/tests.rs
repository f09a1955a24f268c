use super::*;

const M: &[Migration] = &[("1-items", "CREATE TABLE items (id TEXT PRIMARY KEY, n BIGINT NOT NULL, data BLOB)")];

async fn temp() -> (tempfile::TempDir, String, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let store = Store::open(&url, M).await.unwrap();
    (dir, url, store)
}

async fn count(store: &Store) -> i64 {
    store.read(|tx| tx.optional("SELECT COUNT(*) AS n FROM items", &[])?.unwrap().int("n")).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_and_data_survives_reopen() {
    let (_dir, url, s) = temp().await;
    s.write(|tx| {
        tx.execute("INSERT INTO items (id, n, data) VALUES ($1, $2, $3)", params!["a", 7i64, vec![1u8, 2, 3]])
    })
    .await
    .unwrap();
    drop(s);
    let s = Store::open(&url, M).await.unwrap();
    let row = s.read(|tx| tx.optional("SELECT id, n, data FROM items", &[])).await.unwrap().unwrap();
    assert_eq!(
        (row.text("id").unwrap(), row.int("n").unwrap(), row.blob("data").unwrap()),
        ("a".into(), 7, vec![1, 2, 3])
    );
    assert!(matches!(row.int("id"), Err(StoreError::Column { .. })));
    assert!(matches!(Store::open("mysql://x", M).await, Err(StoreError::Url(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_bind_by_number_and_nulls_read_as_none() {
    let (_dir, _url, s) = temp().await;
    s.write(|tx| {
        tx.execute("INSERT INTO items (n, id, data) VALUES ($2, $1, $3)", params!["b", 9i64, None::<Vec<u8>>])
    })
    .await
    .unwrap();
    let row = s
        .read(|tx| {
            tx.optional("SELECT id, n, data FROM items WHERE id = $1 AND n = $1 + 0 OR id = $2", params![0i64, "b"])
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.text("id").unwrap(), row.int("n").unwrap(), row.opt_blob("data").unwrap()), ("b".into(), 9, None));
    let missing = s.write(|tx| tx.execute("INSERT INTO items (id, n) VALUES ($1, $2)", params!["c"])).await;
    assert!(matches!(missing, Err(StoreError::Parameter(_))), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transaction_rolls_back_alone_while_its_commit_group_commits() {
    let (_dir, _url, s) = temp().await;
    let writes = (0..64i64).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.write(move |tx| {
                tx.execute("INSERT INTO items (id, n) VALUES ($1, $2)", params![format!("i{i}"), i])?;
                if i % 2 == 1 {
                    // A refusal after a change: the change must not survive.
                    return Err(StoreError::Parameter("refused".into()));
                }
                Ok(i)
            })
            .await
        })
    });
    let mut committed = 0;
    for w in writes.collect::<Vec<_>>() {
        if w.await.unwrap().is_ok() {
            committed += 1;
        }
    }
    assert_eq!((committed, count(&s).await), (32, 32));
    let unique = s.write(|tx| tx.execute("INSERT INTO items (id, n) VALUES ('i0', 1)", &[])).await.unwrap_err();
    assert!(unique.is_unique_violation(), "{unique}");
    assert_eq!(count(&s).await, 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_transaction_is_rolled_back_and_the_writer_goes_on() {
    let (_dir, _url, s) = temp().await;
    let panicked = s
        .write(|tx| -> Result<(), StoreError> {
            tx.execute("INSERT INTO items (id, n) VALUES ('p', 1)", &[])?;
            panic!("bug in a transaction")
        })
        .await;
    assert!(matches!(panicked, Err(StoreError::Closed(_))));
    s.write(|tx| tx.execute("INSERT INTO items (id, n) VALUES ('q', 1)", &[])).await.unwrap();
    assert_eq!(count(&s).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sqlite_connection_is_durable_and_checks_foreign_keys() {
    let (_dir, _url, s) = temp().await;
    let pragmas = |tx: &mut Tx<'_>| -> Result<(i64, i64, String), StoreError> {
        let int = |tx: &mut Tx<'_>, p: &str| -> Result<i64, StoreError> {
            let row = tx.optional(&format!("SELECT * FROM pragma_{p}"), &[])?.unwrap();
            row.int(p)
        };
        let journal = tx.optional("SELECT * FROM pragma_journal_mode", &[])?.unwrap().text("journal_mode")?;
        Ok((int(tx, "synchronous")?, int(tx, "foreign_keys")?, journal))
    };
    let expected = (2, 1, "wal".to_string());
    assert_eq!(s.write(pragmas).await.unwrap(), expected);
    // Two readers at once: the second is a connection opened later.
    let (a, b) = tokio::join!(s.read(pragmas), s.read(pragmas));
    assert_eq!((a.unwrap(), b.unwrap()), (expected.clone(), expected));
    let read_only = s.read(|tx| tx.execute("INSERT INTO items (id, n) VALUES ('r', 1)", &[])).await;
    assert!(read_only.is_err(), "readers must not write");
}

/// A closure that closes its own savepoint and then fails used to leave
/// its writes in the group's transaction (the rollback to the savepoint
/// failed unnoticed and the COMMIT kept them); now the group is rolled
/// back and nothing of it is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_savepoint_that_cannot_be_rolled_back_loses_the_group_not_the_rollback() {
    let (_dir, _url, s) = temp().await;
    let failed = s
        .write(|tx| {
            tx.execute("RELEASE job", &[])?;
            tx.execute("INSERT INTO items (id, n) VALUES ($1, $2)", params!["sneaked", 1i64])?;
            Err::<(), _>(StoreError::Aborted)
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(count(&s).await, 0, "the failed closure's row was not committed");
    s.write(|tx| tx.execute("INSERT INTO items (id, n) VALUES ($1, $2)", params!["after", 2i64])).await.unwrap();
    assert_eq!(count(&s).await, 1, "the store goes on");
}

/// The database and its WAL files are the owner's alone (0600), also when
/// the file was there before with wider permissions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Store::open(&format!("sqlite://{}", path.display()), M).await.unwrap();
    s.write(|tx| tx.execute("INSERT INTO items (id, n) VALUES ($1, $2)", params!["a", 1i64])).await.unwrap();
    let _ = count(&s).await;
    for name in ["db.sqlite", "db.sqlite-wal", "db.sqlite-shm"] {
        let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}: {mode:o}");
    }
}

/// Closing empties the write-ahead log: the database file alone holds
/// every row (a copy of it is a backup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_folds_the_log_into_the_database_file() {
    let (dir, _url, s) = temp().await;
    let writes = (0..20i64).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.write(move |tx| tx.execute("INSERT INTO items (id, n) VALUES ($1, $2)", params![format!("k{i}"), i]))
                .await
        })
    });
    for w in writes.collect::<Vec<_>>() {
        w.await.unwrap().unwrap();
    }
    assert!(std::fs::metadata(dir.path().join("db.sqlite-wal")).unwrap().len() > 0, "the rows are in the log");
    s.close().await.unwrap();
    assert_eq!(std::fs::metadata(dir.path().join("db.sqlite-wal")).unwrap().len(), 0);
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(dir.path().join("db.sqlite"), &copy).unwrap();
    let reopened = Store::open(&format!("sqlite://{}", copy.display()), M).await.unwrap();
    assert_eq!(count(&reopened).await, 20);
}
