//! The ActivityLog capability.

mod append;
mod lifecycle;
mod query;

pub use append::*;
pub use lifecycle::*;
pub use query::*;
