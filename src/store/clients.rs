//! OAuth clients: registration, keys, enable/disable, lookups by id and owner.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by oversight ---

/// The client's name, if the client exists.
pub async fn name(
    db: &dyn crate::store::Db,
    client_id: &str,
) -> Result<Option<String>, crate::store::StoreError> {
    #[derive(serde::Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = db
        .run(crate::stmt!(
            "SELECT name FROM oauth_clients WHERE id = ?1",
            client_id
        ))
        .await?
        .first()?;
    Ok(row.map(|r| r.name))
}
