//! Fluid's droplet protocol, independent of any web framework or storage: how Fluid signs what it
//! sends, and the shapes of the payloads it really sends.

pub mod lifecycle;
pub mod secret;
pub mod signature;

pub use secret::Secret;
