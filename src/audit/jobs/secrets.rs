//! The `secrets` audit: credentials and personal data in documents ([`crate::audit::secrets`]:
//! gitleaks' default rules, vcurate's Roblox rules, e-mail and public IP addresses). Per
//! `[audit.secrets]` a finding drops its document (credentials, by default) or is redacted
//! (e-mail and IP addresses, by default).
//!
//! Like every audit it never rewrites a document: its attribute table holds each finding's rule,
//! kind, action and byte span, and `snapshot create` replaces every span with its placeholder
//! before rendering and freezing, so no rendered example, frozen table or export carries the
//! value. Neither the table, the exclusions nor the summary hold a value: a finding is shown as
//! a short prefix and a hash ([`crate::audit::secrets::fingerprint`]).

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{drop_document, failed, summary_json, AuditContext, AuditJob};
use crate::audit::run::{AuditError, AuditOutput};
use crate::audit::secrets::{self, Finding, Kind, Redaction, Scanner};
use crate::core::UnitKind;
use crate::store::columns::{read_struct_lists, struct_list_column};
use crate::workspace::settings::{SecretAction, SecretsSettings};

pub struct Secrets;

/// The secrets audit's summary (`summary/secrets.json`): counts only, never a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretsSummary {
    /// Rules run (gitleaks' and the Roblox rules; e-mail and IP checks come on top).
    pub rules: usize,
    /// The action per kind, and the per-rule overrides.
    pub policy: BTreeMap<String, String>,
    pub documents: usize,
    pub documents_with_findings: usize,
    /// Documents dropped for a finding.
    pub dropped: usize,
    /// Documents kept with redacted spans.
    pub redacted: usize,
    /// Findings (not counting those a policy turns off) by kind and by rule.
    pub by_kind: BTreeMap<String, usize>,
    pub by_rule: BTreeMap<String, usize>,
    pub per_source: Vec<SecretsSourceCounts>,
}

/// One source's line in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretsSourceCounts {
    pub source_id: String,
    pub documents: i64,
    pub with_findings: i64,
    pub dropped: i64,
    pub redacted: i64,
    pub secrets: i64,
    pub emails: i64,
    pub ip_addresses: i64,
}

/// A finding as the attribute table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFinding {
    pub rule: String,
    pub kind: Kind,
    pub action: SecretAction,
    pub start: u64,
    pub end: u64,
    pub line: u32,
    /// [`secrets::fingerprint`] of the value.
    pub prefix: String,
    pub hash: String,
}

/// The action a policy gives a finding.
pub fn action(settings: &SecretsSettings, f: &Finding) -> SecretAction {
    if let Some(a) = settings.rules.get(&f.rule) {
        return *a;
    }
    match f.kind {
        Kind::Secret => settings.secret,
        Kind::Email => settings.email,
        Kind::IpAddress => settings.ip_address,
    }
}

/// Checks that every per-rule override names a rule.
fn check_overrides(settings: &SecretsSettings, scanner: &Scanner) -> Result<(), String> {
    let known: BTreeSet<&str> = scanner
        .rule_ids()
        .chain([secrets::EMAIL_RULE, secrets::IP_RULE])
        .collect();
    for id in settings.rules.keys() {
        if !known.contains(id.as_str()) {
            return Err(format!(
                "[audit.secrets.rules] names unknown rule `{id}`; rule ids are the `id`s of src/audit/secrets/gitleaks.toml and roblox.toml, plus `{}` and `{}`",
                secrets::EMAIL_RULE,
                secrets::IP_RULE
            ));
        }
    }
    Ok(())
}

/// What the audit decided for one document.
struct Verdict {
    findings: Vec<StoredFinding>,
    /// The kind that drops it, and why.
    drop: Option<(Kind, String)>,
}

impl AuditJob for Secrets {
    fn name(&self) -> &'static str {
        "secrets"
    }

    fn run(&self, ctx: &AuditContext) -> Result<AuditOutput, AuditError> {
        let (docs, name) = (ctx.docs, self.name());
        let settings = &ctx.config().secrets;
        let scanner = Scanner::builtin();
        check_overrides(settings, scanner).map_err(|e| failed(name, e))?;
        let verdicts: Vec<Verdict> = docs
            .par_iter()
            .map(|d| {
                let found: Vec<(Finding, SecretAction)> = scanner
                    .scan(&d.text, &d.provenance.path)
                    .into_iter()
                    .map(|f| {
                        let a = action(settings, &f);
                        (f, a)
                    })
                    .filter(|(_, a)| *a != SecretAction::Off)
                    .collect();
                let mut drop = found
                    .iter()
                    .filter(|(_, a)| *a == SecretAction::Drop)
                    .min_by_key(|(f, _)| (f.kind, f.start))
                    .map(|(f, _)| {
                        let more = found.len() - 1;
                        let (prefix, hash) = secrets::fingerprint(&d.text[f.start..f.end]);
                        let more = if more > 0 {
                            format!("; {more} more finding(s)")
                        } else {
                            String::new()
                        };
                        (
                            f.kind,
                            format!(
                                "{} at line {} ({prefix}… blake3 {hash}){more}",
                                f.rule, f.line
                            ),
                        )
                    });
                // An imported chat row is JSON text: a redaction that would break it drops the
                // row instead.
                if drop.is_none()
                    && !found.is_empty()
                    && d.provenance.unit_kind == UnitKind::ChatExample
                {
                    let spans: Vec<Redaction> = found
                        .iter()
                        .map(|(f, _)| Redaction {
                            start: f.start,
                            end: f.end,
                            kind: f.kind,
                        })
                        .collect();
                    let redacted = secrets::redact(&d.text, &spans);
                    if serde_json::from_str::<serde_json::Value>(&redacted).is_err() {
                        let f = &found[0].0;
                        drop = Some((
                            f.kind,
                            format!(
                                "{} at line {}: redacting it would break the row's JSON",
                                f.rule, f.line
                            ),
                        ));
                    }
                }
                let findings = found
                    .into_iter()
                    .map(|(f, a)| {
                        let (prefix, hash) = secrets::fingerprint(&d.text[f.start..f.end]);
                        StoredFinding {
                            rule: f.rule,
                            kind: f.kind,
                            action: a,
                            start: f.start as u64,
                            end: f.end as u64,
                            line: f.line,
                            prefix,
                            hash,
                        }
                    })
                    .collect();
                Verdict { findings, drop }
            })
            .collect();
        let excluded = docs
            .iter()
            .zip(&verdicts)
            .filter_map(|(d, v)| {
                v.drop.as_ref().map(|(kind, detail)| {
                    drop_document(
                        name,
                        d,
                        format!("contains_{}", kind.as_str()),
                        detail.clone(),
                    )
                })
            })
            .collect();
        let count = |v: &Verdict, k: Kind| v.findings.iter().filter(|f| f.kind == k).count() as u32;
        let df = ctx.attributes(vec![
            findings_column(verdicts.iter().map(|v| v.findings.as_slice()))?,
            Column::new(
                "secrets".into(),
                verdicts
                    .iter()
                    .map(|v| count(v, Kind::Secret))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "emails".into(),
                verdicts
                    .iter()
                    .map(|v| count(v, Kind::Email))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "ip_addresses".into(),
                verdicts
                    .iter()
                    .map(|v| count(v, Kind::IpAddress))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "redacted".into(),
                verdicts
                    .iter()
                    .map(|v| v.drop.is_none() && !v.findings.is_empty())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "passes".into(),
                verdicts
                    .iter()
                    .map(|v| v.drop.is_none())
                    .collect::<Vec<_>>(),
            ),
        ])?;
        self.output(ctx, df, excluded)
    }

    fn per_document(&self) -> bool {
        true
    }

    fn summary_columns(&self) -> &'static [&'static str] {
        &[
            "id",
            "source_id",
            "findings",
            "secrets",
            "emails",
            "ip_addresses",
            "redacted",
            "passes",
        ]
    }

    /// Everything from the table: a document has findings when it has a secret, e-mail or IP
    /// address (findings a policy turns off are not stored).
    fn summarize(
        &self,
        cfg: &crate::workspace::settings::AuditConfig,
        df: &DataFrame,
    ) -> Result<serde_json::Value, AuditError> {
        let settings = &cfg.secrets;
        let mut by_kind = BTreeMap::new();
        let mut by_rule = BTreeMap::new();
        let kinds_rules = read_struct_lists(df, "findings", |f, i| {
            Ok((
                crate::store::columns::str_at(f, "kind", i)?.unwrap_or_default(),
                crate::store::columns::str_at(f, "rule", i)?.unwrap_or_default(),
            ))
        })?;
        for (kind, rule) in kinds_rules.into_iter().flatten() {
            *by_kind.entry(kind).or_insert(0) += 1;
            *by_rule.entry(rule).or_insert(0) += 1;
        }
        let mut policy: BTreeMap<String, String> = [
            ("secret", settings.secret),
            ("email", settings.email),
            ("ip_address", settings.ip_address),
        ]
        .into_iter()
        .map(|(k, a)| (k.to_string(), a.as_str().to_string()))
        .collect();
        for (rule, a) in &settings.rules {
            policy.insert(format!("rule:{rule}"), a.as_str().to_string());
        }
        let per_source = per_source(df)?;
        let total = |f: fn(&SecretsSourceCounts) -> i64| -> usize {
            per_source.iter().map(f).sum::<i64>() as usize
        };
        let summary = SecretsSummary {
            rules: Scanner::builtin().rule_ids().count(),
            policy,
            documents: df.height(),
            documents_with_findings: total(|s| s.with_findings),
            dropped: total(|s| s.dropped),
            redacted: total(|s| s.redacted),
            by_kind,
            by_rule,
            per_source,
        };
        Ok(summary_json(&summary))
    }
}

/// Counts per source, as a Polars job over a `secrets` attribute table (the audit's summary and
/// the HTML report both show them).
pub fn per_source(df: &DataFrame) -> PolarsResult<Vec<SecretsSourceCounts>> {
    let g = df
        .clone()
        .lazy()
        .with_column(
            (col("secrets") + col("emails") + col("ip_addresses"))
                .gt(lit(0u32))
                .alias("with_findings"),
        )
        .group_by([col("source_id")])
        .agg([
            col("id").count().alias("documents"),
            col("with_findings").sum().alias("with_findings"),
            col("passes").not().sum().alias("dropped"),
            col("redacted").sum().alias("redacted"),
            col("secrets").sum().alias("secrets"),
            col("emails").sum().alias("emails"),
            col("ip_addresses").sum().alias("ip_addresses"),
        ])
        .sort(["source_id"], Default::default())
        .collect()?;
    let int = |name: &str, i: usize| -> PolarsResult<i64> {
        Ok(g.column(name)?.get(i)?.extract::<i64>().unwrap_or(0))
    };
    let mut out = Vec::new();
    for i in 0..g.height() {
        out.push(SecretsSourceCounts {
            source_id: g
                .column("source_id")?
                .str()?
                .get(i)
                .unwrap_or_default()
                .to_string(),
            documents: int("documents", i)?,
            with_findings: int("with_findings", i)?,
            dropped: int("dropped", i)?,
            redacted: int("redacted", i)?,
            secrets: int("secrets", i)?,
            emails: int("emails", i)?,
            ip_addresses: int("ip_addresses", i)?,
        });
    }
    Ok(out)
}

/// The `findings` list-of-structs column, one list per document.
fn findings_column<'a>(
    rows: impl ExactSizeIterator<Item = &'a [StoredFinding]> + Clone,
) -> PolarsResult<Column> {
    let all: Vec<&StoredFinding> = rows.clone().flatten().collect();
    let lengths: Vec<usize> = rows.map(<[StoredFinding]>::len).collect();
    let strs = |name: &str, f: fn(&StoredFinding) -> &str| {
        Column::new(name.into(), all.iter().map(|x| f(x)).collect::<Vec<_>>())
    };
    struct_list_column(
        "findings",
        &[
            strs("rule", |f| &f.rule),
            strs("kind", |f| f.kind.as_str()),
            strs("action", |f| f.action.as_str()),
            Column::new(
                "start".into(),
                all.iter().map(|f| f.start).collect::<Vec<_>>(),
            ),
            Column::new("end".into(), all.iter().map(|f| f.end).collect::<Vec<_>>()),
            Column::new(
                "line".into(),
                all.iter().map(|f| f.line).collect::<Vec<_>>(),
            ),
            strs("prefix", |f| &f.prefix),
            strs("hash", |f| &f.hash),
        ],
        &lengths,
    )
}

/// What to redact in one document: the spans, and the rules that found them (sorted, once each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocRedactions {
    pub spans: Vec<Redaction>,
    pub rules: Vec<String>,
}

/// The redaction spans of every document in a `secrets` attribute table, by document id
/// (documents without findings are absent). Every finding is redacted, whatever its action: a
/// dropped document's frozen copy must not carry the value either.
pub fn redactions(df: &DataFrame) -> PolarsResult<BTreeMap<String, DocRedactions>> {
    let ids: Vec<Option<String>> = df
        .column("id")?
        .str()?
        .iter()
        .map(|v| v.map(String::from))
        .collect();
    let lists = read_struct_lists(df, "findings", |f, i| {
        let kind = crate::store::columns::str_at(f, "kind", i)?.unwrap_or_default();
        let rule = crate::store::columns::str_at(f, "rule", i)?.unwrap_or_default();
        let int = |name: &str| -> PolarsResult<u64> {
            Ok(f.column(name)?
                .cast(&DataType::UInt64)?
                .u64()?
                .get(i)
                .unwrap_or(0))
        };
        Ok((
            Redaction {
                start: int("start")? as usize,
                end: int("end")? as usize,
                kind: Kind::parse(&kind).unwrap_or(Kind::Secret),
            },
            rule,
        ))
    })?;
    let mut out = BTreeMap::new();
    for (id, list) in ids.into_iter().zip(lists) {
        if let (Some(id), false) = (id, list.is_empty()) {
            let (spans, mut rules): (Vec<Redaction>, Vec<String>) = list.into_iter().unzip();
            rules.sort();
            rules.dedup();
            out.insert(id, DocRedactions { spans, rules });
        }
    }
    Ok(out)
}
