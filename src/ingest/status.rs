//! What `vcurate sources` shows: each declared source with its locked and ingested commits and
//! counts.

use serde::Serialize;

use super::{load_sources, lock::Lock, manifest::Location, IngestError};
use crate::workspace::Workspace;

/// One declared source and where it stands.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SourceStatus {
    pub id: String,
    pub kind: String,
    /// The declared URL or path.
    pub location: String,
    /// The declared rev (git sources).
    pub rev: Option<String>,
    /// The commit `sources.lock` pins.
    pub locked_commit: Option<String>,
    /// The commit the store was ingested from.
    pub ingested_commit: Option<String>,
    pub documents: Option<u64>,
    pub skipped: Option<u64>,
    pub parse_failures: Option<u64>,
}

/// Every declared source of the workspace with its lock and store state.
pub fn status(ws: &Workspace) -> Result<Vec<SourceStatus>, IngestError> {
    let lock = Lock::read(&ws.lock_path())?;
    Ok(load_sources(ws, &[])?
        .into_iter()
        .map(|s| {
            let state = crate::store::read_state(&ws.store_dir(), &s.id);
            let rev = match &s.location {
                Location::Git { rev, .. } => Some(rev.clone()),
                Location::Path(_) => None,
            };
            SourceStatus {
                location: s.declared_location(),
                kind: s.kind.as_str().into(),
                rev,
                locked_commit: lock.sources.get(&s.id).map(|l| l.commit.clone()),
                ingested_commit: state.as_ref().and_then(|st| st.commit.clone()),
                documents: state.as_ref().map(|st| st.documents),
                skipped: state.as_ref().map(|st| st.skipped),
                parse_failures: state.as_ref().map(|st| st.parse_failures),
                id: s.id,
            }
        })
        .collect())
}
