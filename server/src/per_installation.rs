//! How often something may happen per installation, counted in memory by this instance (a keyed
//! token bucket): Carts API reads for the checkout widget, decisions written to the log.

use std::{num::NonZeroU32, sync::Arc};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// At most so many a second per installation, in bursts of as many. Cheap to clone.
#[derive(Clone)]
pub struct PerInstallation(Arc<DefaultKeyedRateLimiter<String>>);

impl PerInstallation {
    pub fn per_second(per_second: NonZeroU32) -> Self {
        Self(Arc::new(RateLimiter::keyed(Quota::per_second(per_second))))
    }

    /// Whether `installation` may go on now (and counts it if so).
    pub fn allow(&self, installation: &str) -> bool {
        self.0.check_key(&installation.to_owned()).is_ok()
    }
}
