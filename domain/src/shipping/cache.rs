//! The hot path of `update_cart_shipping` reads options from memory. Each entry remembers the
//! installation's `settings_version` it was read at; a callback reads the current version with
//! the installation anyway, and a different one means a write happened (through this instance or
//! any other sharing the database), so the options are read again. Staleness bound: none — a
//! callback that starts after a write has committed answers with it.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::RwLock;

use super::{ShippingOption, store};
use crate::{Db, DbError};

#[derive(Debug)]
struct Entry {
    settings_version: i64,
    options: Arc<Vec<ShippingOption>>,
}

/// Shipping options per installation, as last read.
#[derive(Debug, Default, Clone)]
pub struct Cache {
    entries: Arc<RwLock<HashMap<String, Entry>>>,
}

impl Cache {
    /// The installation's options at `settings_version` (read from the installation before this
    /// call), from memory when that version is the one cached.
    pub async fn options(
        &self,
        db: &Db,
        uuid: &str,
        settings_version: i64,
    ) -> Result<Arc<Vec<ShippingOption>>, DbError> {
        if let Some(entry) = self.entries.read().await.get(uuid)
            && entry.settings_version == settings_version
        {
            return Ok(entry.options.clone());
        }
        // Read after the version: a write in between leaves newer options under the older
        // version, which only costs one more read next time, never a stale answer.
        let options = Arc::new(store::list(db, uuid).await?);
        self.entries.write().await.insert(
            uuid.to_owned(),
            Entry {
                settings_version,
                options: options.clone(),
            },
        );
        Ok(options)
    }
}
