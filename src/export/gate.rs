//! The publish gate: a license profile's verdict on every example, from the license audit's
//! table frozen in the snapshot. Export never re-decides a license.

use std::collections::BTreeMap;
use std::path::Path;

use super::ExportError;
use crate::core::Example;

/// The profile's verdict on each document of a snapshot: allowed, and why (not).
pub struct LicenseGate {
    verdicts: BTreeMap<String, (bool, String)>,
}

impl LicenseGate {
    /// Reads `attributes/license.parquet` of a snapshot folder for `profile`.
    pub fn load(snapshot_dir: &Path, id: &str, profile: &str) -> Result<LicenseGate, ExportError> {
        let path = snapshot_dir.join("attributes").join("license.parquet");
        if !path.exists() {
            return Err(ExportError::NoLicenseVerdicts(id.to_string()));
        }
        let bad = |e: String| ExportError::Malformed(path.clone(), e);
        let lic = crate::store::read_parquet(&path).map_err(|e| bad(e.to_string()))?;
        let (allowed_col, reason_col) = (format!("{profile}_allowed"), format!("{profile}_reason"));
        if lic.column(&allowed_col).is_err() {
            return Err(ExportError::UnknownProfile(profile.to_string()));
        }
        let strings = |name: &str| -> Result<Vec<String>, ExportError> {
            Ok(lic
                .column(name)
                .and_then(|c| c.str().cloned())
                .map_err(|e| bad(e.to_string()))?
                .iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect())
        };
        let allowed = lic
            .column(&allowed_col)
            .and_then(|c| c.bool().cloned())
            .map_err(|e| bad(e.to_string()))?;
        let verdicts = strings("id")?
            .into_iter()
            .zip(allowed.iter().map(|b| b.unwrap_or(false)))
            .zip(strings(&reason_col)?)
            .map(|((id, a), r)| (id, (a, r)))
            .collect();
        Ok(LicenseGate { verdicts })
    }

    /// Ok, or why the example is refused (every refused document with its reason).
    pub fn check(&self, e: &Example) -> Result<(), String> {
        let refused: Vec<String> = e
            .doc_ids
            .iter()
            .filter_map(|d| match self.verdicts.get(d) {
                Some((true, _)) => None,
                Some((false, why)) => Some(format!("{d}: {why}")),
                None => Some(format!("{d}: no license verdict")),
            })
            .collect();
        if refused.is_empty() {
            Ok(())
        } else {
            Err(refused.join("; "))
        }
    }
}
