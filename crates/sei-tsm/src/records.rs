//! The SEI-TSM's store: the apps the SP registered, and each SE's
//! preparation state. SQL lives here only.

use store::{params, Store, StoreError};

const SCHEMA: &[store::Migration] = &[(
    "1-sei-tsm",
    "CREATE TABLE apps (hash TEXT PRIMARY KEY, registered_at BIGINT NOT NULL);
     CREATE TABLE secure_elements (se_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at BIGINT NOT NULL)",
)];

store::stored_state! {
    /// Where an SE's preparation stands.
    SeState {
        /// Begun, not finished (it may be begun again).
        Preparing = "preparing",
        /// Done and the keys handed over: never again.
        Prepared = "prepared",
    }
}

/// The SEI-TSM's records.
#[derive(Debug)]
pub struct Records {
    store: Store,
}

impl Records {
    /// The store, for health checks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Opens the store at `url`, applying migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self { store: Store::open(url, SCHEMA).await? })
    }

    /// Replaces the registered apps (SHA-256 of their signing certificates).
    pub async fn set_apps(&self, hashes: &[Vec<u8>]) -> Result<(), StoreError> {
        let hashes: Vec<String> = hashes.iter().map(hex::encode_upper).collect();
        let at = tsm::http::now_secs();
        self.store
            .write(move |tx| {
                tx.execute("DELETE FROM apps", &[])?;
                for hash in hashes {
                    tx.execute("INSERT INTO apps (hash, registered_at) VALUES ($1, $2)", params![hash, at])?;
                }
                Ok(())
            })
            .await
    }

    /// The registered apps.
    pub async fn apps(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = self.store.read(|tx| tx.all("SELECT hash FROM apps ORDER BY hash", &[])).await?;
        rows.iter()
            .map(|r| hex::decode(r.text("hash")?).map_err(|e| StoreError::Decode(format!("app hash: {e}"))))
            .collect()
    }

    /// An SE's state, if its preparation was ever begun.
    pub async fn se_state(&self, se_id: &str) -> Result<Option<SeState>, StoreError> {
        let se_id = se_id.to_string();
        let row = self
            .store
            .read(move |tx| tx.optional("SELECT state FROM secure_elements WHERE se_id = $1", params![se_id]))
            .await?;
        row.map(|r| SeState::parse(&r.text("state")?)).transpose()
    }

    /// Records an SE's state.
    pub async fn set_se_state(&self, se_id: &str, state: SeState) -> Result<(), StoreError> {
        let (se_id, at) = (se_id.to_string(), tsm::http::now_secs());
        self.store
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO secure_elements (se_id, state, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (se_id) DO UPDATE SET state = $2, updated_at = $3",
                    params![se_id, state.as_str(), at],
                )
            })
            .await?;
        Ok(())
    }
}
