//! Reads for investigation beyond triage: the diff of two profiles, the ranking of a
//! profile's containers by how rare their behaviour is, and exports of a profile. The
//! logic is in `model` (`diff`, `outlier`, `export`); this reads what it needs.

use crate::read::Reads;
use crate::{Result, StoreError};
use duckdb::params;
use model::diff::ProfileDiff;
use model::export::{ExportContext, ExportFormat};
use model::outlier::OutlierReport;
use model::Profile;
use std::collections::BTreeSet;

impl Reads<'_> {
    fn existing_profile(&self, image: &str, version: &str) -> Result<Profile> {
        self.profile(image, version)?
            .ok_or_else(|| StoreError::NotFound(format!("no profile {image}:{version}")))
    }

    /// What `to` holds that `from` does not, what it no longer holds, and the nodes whose
    /// commonality moved by more than `threshold` (0..1).
    pub(crate) fn profile_diff(
        &self,
        from_image: &str,
        from_version: &str,
        to_image: &str,
        to_version: &str,
        threshold: f64,
    ) -> Result<ProfileDiff> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(StoreError::Refused(format!(
                "threshold {threshold}: expected a share between 0 and 1"
            )));
        }
        let from = self.existing_profile(from_image, from_version)?;
        let to = self.existing_profile(to_image, to_version)?;
        Ok(model::diff::diff(&from, &to, threshold))
    }

    /// The profile's containers, the most unusual first (see `model::outlier`), over all
    /// their snapshots: merged ones and those kept after the profile became Stable.
    pub(crate) fn profile_outliers(&self, image: &str, version: &str) -> Result<OutlierReport> {
        let profile = self.existing_profile(image, version)?;
        let snapshots = self.snapshots_of(image, version)?;
        Ok(model::outlier::rank(&profile, &snapshots))
    }

    /// The profile exported as `format` (YAML text); a Learning profile only with `force`.
    pub(crate) fn profile_export(
        &self,
        image: &str,
        version: &str,
        format: ExportFormat,
        force: bool,
    ) -> Result<String> {
        let profile = self.existing_profile(image, version)?;
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT s.tags_json, s.image_digest
             FROM snapshots s JOIN profiles p USING (profile_id)
             WHERE p.image = ? AND p.version = ?",
        )?;
        let rows = stmt.query_map(params![image, version], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let (mut tags, mut digests) = (BTreeSet::new(), BTreeSet::new());
        for row in rows {
            let (tags_json, digest) = row?;
            tags.extend(serde_json::from_str::<Vec<String>>(&tags_json).unwrap_or_default());
            if !digest.is_empty() {
                digests.insert(digest);
            }
        }
        let ctx = ExportContext {
            tags: tags.into_iter().collect(),
            digests: digests.into_iter().collect(),
        };
        model::export::export(&profile, &ctx, format, force)
            .map_err(|e| StoreError::Refused(e.to_string()))
    }
}
