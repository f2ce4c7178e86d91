//! Records, provenance, ids and errors shared by every stage. No I/O lives here.

pub mod id;
pub mod record;

pub use id::{document_id, sha256_hex};
pub use record::*;
