//! The hot path of `update_cart_shipping` reads options from memory: one database read per
//! installation until a write through this process invalidates it. (Writes on another instance
//! sharing the database are not seen here yet; see issue 7.)

use std::{collections::HashMap, sync::Arc};

use tokio::sync::RwLock;

use super::{ShippingOption, store};
use crate::{Db, DbError};

/// Shipping options per installation, as last read.
#[derive(Debug, Default, Clone)]
pub struct Cache {
    options: Arc<RwLock<HashMap<String, Arc<Vec<ShippingOption>>>>>,
}

impl Cache {
    /// The installation's options, from memory when they have not changed.
    pub async fn options(&self, db: &Db, uuid: &str) -> Result<Arc<Vec<ShippingOption>>, DbError> {
        if let Some(options) = self.options.read().await.get(uuid) {
            return Ok(options.clone());
        }
        let options = Arc::new(store::list(db, uuid).await?);
        self.options
            .write()
            .await
            .insert(uuid.to_owned(), options.clone());
        Ok(options)
    }

    /// Forgets the installation's options (after a write).
    pub async fn invalidate(&self, uuid: &str) {
        self.options.write().await.remove(uuid);
    }
}
