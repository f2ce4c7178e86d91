//! Audits over ingested documents: each writes an attribute table keyed by document id and
//! records every document it drops with a reason. Audits never rewrite documents.

pub mod cluster;
pub mod contamination;
pub mod jobs;
pub mod license;
pub mod license_expr;
pub mod license_report;
pub mod minhash;
pub mod normalize;
pub mod policy;
pub mod run;
pub mod secrets;
pub mod sharded;
pub mod split;
#[cfg(test)]
pub(crate) mod test_support;
