//! The `PUBLIC_URL`s the service has started with. Registrations on Fluid at any of them are ours
//! (a deploy moved the service; reconciling brings them to the newest), and only an instance
//! started on the newest repairs registrations: during a rolling deploy, an instance still on the
//! old URL never moves them back.

use crate::{Db, DbError, time};

/// Records that an instance starts serving at `url` now; it becomes the newest.
pub async fn record_start(db: &Db, url: &str) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO public_urls (url, last_started_at) VALUES ($1, $2) \
         ON CONFLICT (url) DO UPDATE SET last_started_at = excluded.last_started_at",
    )
    .bind(url)
    .bind(time::now_ms())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Every `PUBLIC_URL` the service has started with, newest first.
pub async fn known(db: &Db) -> Result<Vec<String>, DbError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT url FROM public_urls ORDER BY last_started_at DESC, url")
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(url,)| url).collect())
}

/// The `PUBLIC_URL` started most recently, when `url` is not it: the registrations belong there,
/// and an instance at `url` leaves them alone. `None` when `url` is the newest or none is known.
pub async fn newer_than(db: &Db, url: &str) -> Result<Option<String>, DbError> {
    Ok(known(db).await?.into_iter().next().filter(|newest| newest != url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_latest_start_is_the_newest_and_a_start_again_makes_an_old_url_newest() {
        let (_dir, db) = crate::testing::db_with_installation().await;
        assert_eq!(newer_than(&db, "https://a.example").await.unwrap(), None);
        record_start(&db, "https://a.example").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        record_start(&db, "https://b.example").await.unwrap();
        assert_eq!(
            newer_than(&db, "https://a.example").await.unwrap().as_deref(),
            Some("https://b.example")
        );
        assert_eq!(newer_than(&db, "https://b.example").await.unwrap(), None);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        // A rollback is a start again on the old URL.
        record_start(&db, "https://a.example").await.unwrap();
        assert_eq!(newer_than(&db, "https://a.example").await.unwrap(), None);
        assert_eq!(
            known(&db).await.unwrap(),
            ["https://a.example", "https://b.example"]
        );
    }
}
