//! The hot path of `update_cart_shipping` reads options from memory. Each entry remembers the
//! installation's `settings_version` it was read at; a callback reads the current version with
//! the installation anyway, and a different one means a write happened (through this instance or
//! any other sharing the database), so the options are read again. Staleness bound: none — a
//! callback that starts after a write has committed answers with it. The backup rate is kept with
//! the options, so a callback that cannot be answered in time (the database slow) still has the
//! last one read, without asking the database.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::RwLock;

use super::{ShippingOption, backup::BackupRate, store};
use crate::{Db, DbError};

/// What `update_cart_shipping` answers from: the options, and the backup rate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShippingSettings {
    pub options: Vec<ShippingOption>,
    pub backup: Option<BackupRate>,
}

#[derive(Debug)]
struct Entry {
    settings_version: i64,
    settings: Arc<ShippingSettings>,
}

/// Shipping settings per installation, as last read.
#[derive(Debug, Default, Clone)]
pub struct Cache {
    entries: Arc<RwLock<HashMap<String, Entry>>>,
}

impl Cache {
    /// The installation's settings at `settings_version` (read from the installation before
    /// this call), from memory when that version is the one cached.
    pub async fn settings(
        &self,
        db: &Db,
        uuid: &str,
        settings_version: i64,
    ) -> Result<Arc<ShippingSettings>, DbError> {
        if let Some(entry) = self.entries.read().await.get(uuid)
            && entry.settings_version == settings_version
        {
            return Ok(entry.settings.clone());
        }
        // Read after the version: a write in between leaves newer settings under the older
        // version, which only costs one more read next time, never a stale answer.
        let settings = Arc::new(store::settings(db, uuid).await?);
        self.entries.write().await.insert(
            uuid.to_owned(),
            Entry {
                settings_version,
                settings: settings.clone(),
            },
        );
        Ok(settings)
    }

    /// The backup rate read for the installation at `settings_version`, without asking the
    /// database: what a callback that could not be answered in time falls back on. None when this
    /// instance has not read that version (a rate the merchant just changed or removed is never
    /// answered from an older read).
    pub async fn backup_at(&self, uuid: &str, settings_version: i64) -> Option<BackupRate> {
        let entries = self.entries.read().await;
        let entry = entries
            .get(uuid)
            .filter(|e| e.settings_version == settings_version)?;
        entry.settings.backup.clone()
    }
}
