//! The license policy (`licenses/policy.toml`) and the gate built on it: which licenses each
//! profile admits, and per-source exceptions a person signed.
//!
//! The gate's promise, proven by a property test below: under a redistributable profile
//! (`publish`) no document whose license is denied, or unresolved without a person's recorded
//! conclusion, is ever admitted, and no own-codebase or permissioned material either; a verdict
//! resting only on weak evidence (a README statement) is never taken as `allow`, only as
//! review material is (the default `publish` admits that only by a person's exception).
//! Nothing in this module can admit a denied license: not a profile, not an exception, not a
//! rights basis.
//!
//! The policy file is parsed strictly; every mistake names the file and line.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use spdx::expression::{ExprNode, Operator};

use crate::audit::license::{LicenseVerdict, Status};
use crate::audit::license_expr::{normalize, parse, UNKNOWN};
use crate::core::{Document, RightsBasis};
use crate::workspace::{parse_toml, ConfigError};

/// The policy `vcurate init` writes: this repository's own `licenses/policy.toml`.
pub const DEFAULT_POLICY: &str = include_str!("../../licenses/policy.toml");

/// Where the policy lives in a workspace, relative to the root.
pub const POLICY_PATH: &str = "licenses/policy.toml";

/// A class a license (or a whole expression) falls in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Ordered from best to worst: AND keeps the worst part, OR the best.
    Allow,
    Review,
    Unresolved,
    Deny,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Allow => "allow",
            Class::Review => "review",
            Class::Unresolved => "unresolved",
            Class::Deny => "deny",
        }
    }
}

/// A class a list or a profile can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListClass {
    Allow,
    Review,
    Deny,
}

impl From<ListClass> for Class {
    fn from(c: ListClass) -> Class {
        match c {
            ListClass::Allow => Class::Allow,
            ListClass::Review => Class::Review,
            ListClass::Deny => Class::Deny,
        }
    }
}

/// One listed license and why it is in its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// An SPDX id (`MIT`, `GPL-3.0-only`, `Apache-2.0 WITH LLVM-exception`) or `LicenseRef-...`.
    pub id: String,
    pub reason: String,
}

/// A profile: what one use of the data (training, publishing) admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    #[serde(default)]
    pub description: String,
    /// Classes admitted outright (`allow`, `review`).
    pub admit: Vec<ListClass>,
    /// Rights bases of sources this profile may use at all.
    pub rights_basis: Vec<RightsBasis>,
    /// Rights bases that stand in for a missing or private grant (LicenseRef-* parts and
    /// unresolved verdicts of their documents are admitted).
    #[serde(default)]
    pub trust_rights: Vec<RightsBasis>,
    /// The profile ships material to others.
    pub redistributable: bool,
    /// The best class a verdict resting only on weak evidence (a README statement) can have:
    /// `allow` takes it like any verdict, `review` needs what review needs (a profile that
    /// admits review, or a person's exception), `deny` refuses it. Unset: `review` for a
    /// redistributable profile, `allow` otherwise. A redistributable profile cannot say `allow`.
    #[serde(default)]
    pub weak_evidence: Option<ListClass>,
}

impl Profile {
    /// The `weak-evidence` class in effect (the default filled in).
    pub fn weak_evidence_class(&self) -> ListClass {
        self.weak_evidence.unwrap_or(if self.redistributable {
            ListClass::Review
        } else {
            ListClass::Allow
        })
    }
}

/// What an exception does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Admit `review` documents of the source in the named profiles.
    Allow,
    /// Refuse the source's documents in the named profiles.
    Deny,
}

/// A person's decision about one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub source: String,
    /// Globs of paths inside the source; empty means every document of it.
    #[serde(default)]
    pub paths: Vec<String>,
    pub action: Action,
    pub profiles: Vec<String>,
    /// The license a person concluded for documents the audit left unresolved.
    pub license: Option<String>,
    pub who: String,
    pub why: String,
    /// YYYY-MM-DD.
    pub date: String,
}

/// `licenses/policy.toml` as written (its JSON Schema is generated from this type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyFile {
    /// Class of licenses in no list.
    pub unlisted: ListClass,
    #[serde(default)]
    pub allow: Vec<Entry>,
    #[serde(default)]
    pub review: Vec<Entry>,
    #[serde(default)]
    pub deny: Vec<Entry>,
    pub profiles: BTreeMap<String, Profile>,
    #[serde(default, rename = "exception")]
    pub exceptions: Vec<Exception>,
}

/// The gate's answer for one document under one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    pub allowed: bool,
    pub class: Class,
    pub reason: String,
    /// The profile's `weak-evidence` rule lowered the class (the reason starts with
    /// `weak_evidence:`).
    #[serde(default)]
    pub weak_evidence: bool,
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub file: PolicyFile,
    /// Listed id -> (class, reason).
    classes: BTreeMap<String, (ListClass, String)>,
    exception_globs: Vec<Vec<globset::GlobMatcher>>,
}

/// The profiles every policy must define.
pub const REQUIRED_PROFILES: &[&str] = &["train", "publish"];

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, ConfigError> {
        let text = fs_err::read_to_string(path)
            .map_err(|e| ConfigError::new(path, None, e.to_string()))?;
        Policy::parse(path, &text)
    }

    /// The workspace's `licenses/policy.toml`. A workspace without one is an error, never a
    /// silent default: what may be trained on is the user's decision, recorded in the snapshot.
    pub fn for_workspace(root: &Path) -> Result<Policy, ConfigError> {
        let path = root.join(POLICY_PATH);
        if !path.is_file() {
            return Err(ConfigError::new(
                &path,
                None,
                "the workspace has no license policy; `vcurate init NEW_DIR` writes the default one: copy NEW_DIR/licenses/policy.toml here and edit it",
            ));
        }
        Policy::load(&path)
    }

    /// The built-in default policy (what `vcurate init` writes).
    pub fn default_policy() -> Policy {
        Policy::parse(Path::new(POLICY_PATH), DEFAULT_POLICY).expect("the default policy is valid")
    }

    /// Validates policy text; `path` is used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Policy, ConfigError> {
        let file: PolicyFile = parse_toml(path, text)?;
        let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
        let err = |needle: &str, msg: String| ConfigError::new(path, line_of(needle), msg);
        let mut classes: BTreeMap<String, (ListClass, String)> = BTreeMap::new();
        for (class, entries) in [
            (ListClass::Allow, &file.allow),
            (ListClass::Review, &file.review),
            (ListClass::Deny, &file.deny),
        ] {
            for e in entries {
                let quoted = format!("\"{}\"", e.id);
                let id_ok = e.id.starts_with("LicenseRef-") && parse(&e.id).is_some()
                    || parse(&e.id).is_some_and(|x| {
                        x.iter().filter(|n| matches!(n, ExprNode::Req(_))).count() == 1
                    });
                if !id_ok {
                    let hint = normalize(&e.id)
                        .map(|n| format!(" (did you mean `{}`?)", n.expr))
                        .unwrap_or_default();
                    return Err(err(
                        &quoted,
                        format!(
                            "`{}` is not a single SPDX license id or LicenseRef-...{hint}",
                            e.id
                        ),
                    ));
                }
                if e.reason.trim().is_empty() {
                    return Err(err(&quoted, format!("`{}` needs a reason", e.id)));
                }
                if let Some((prev, _)) = classes.get(&e.id) {
                    return Err(err(
                        &quoted,
                        format!(
                            "`{}` is listed twice (in `{}` and `{}`); keep one",
                            e.id,
                            list_name(*prev),
                            list_name(class)
                        ),
                    ));
                }
                classes.insert(e.id.clone(), (class, e.reason.clone()));
            }
        }
        for name in REQUIRED_PROFILES {
            if !file.profiles.contains_key(*name) {
                return Err(ConfigError::new(
                    path,
                    None,
                    format!("the policy must define `[profiles.{name}]`"),
                ));
            }
        }
        for (name, p) in &file.profiles {
            let at = format!("[profiles.{name}]");
            if p.admit.contains(&ListClass::Deny) {
                return Err(err(&at, format!("profile `{name}` cannot admit `deny`")));
            }
            if p.redistributable {
                if !p.trust_rights.is_empty() {
                    return Err(err(&at, format!("profile `{name}` is redistributable, so it cannot trust rights bases: publishing needs a license, not only permission to use")));
                }
                if let Some(r) = p
                    .rights_basis
                    .iter()
                    .find(|r| matches!(r, RightsBasis::OwnCodebase | RightsBasis::Permissioned))
                {
                    return Err(err(&at, format!("profile `{name}` is redistributable, so it cannot use `{}` sources (they may train but not be published)", r.as_str())));
                }
                if p.weak_evidence == Some(ListClass::Allow) {
                    return Err(err(&at, format!("profile `{name}` is redistributable, so it cannot take weak evidence as `allow`: a README statement alone is not a license to redistribute (use \"review\" and record a person's check as an exception, or \"deny\")")));
                }
            }
        }
        let mut exception_globs = Vec::new();
        for x in &file.exceptions {
            let at = format!("source = \"{}\"", x.source);
            for (field, v) in [("source", &x.source), ("who", &x.who), ("why", &x.why)] {
                if v.trim().is_empty() {
                    return Err(err(
                        &at,
                        format!("exception for `{}` needs a non-empty `{field}`", x.source),
                    ));
                }
            }
            if chrono::NaiveDate::parse_from_str(&x.date, "%Y-%m-%d").is_err() {
                return Err(err(
                    &at,
                    format!(
                        "exception for `{}`: date `{}` is not YYYY-MM-DD",
                        x.source, x.date
                    ),
                ));
            }
            if x.profiles.is_empty() {
                return Err(err(
                    &at,
                    format!("exception for `{}` names no profile", x.source),
                ));
            }
            for p in &x.profiles {
                if !file.profiles.contains_key(p) {
                    return Err(err(
                        &at,
                        format!("exception for `{}` names unknown profile `{p}`", x.source),
                    ));
                }
            }
            if let Some(l) = &x.license {
                if normalize(l).is_err() || l.contains(UNKNOWN) {
                    return Err(err(
                        &at,
                        format!(
                            "exception for `{}`: `{l}` is not an SPDX expression",
                            x.source
                        ),
                    ));
                }
            }
            let mut globs = Vec::new();
            for g in &x.paths {
                let m = globset::Glob::new(g)
                    .map_err(|e| {
                        err(
                            &at,
                            format!("exception for `{}`: bad path glob `{g}`: {e}", x.source),
                        )
                    })?
                    .compile_matcher();
                globs.push(m);
            }
            exception_globs.push(globs);
        }
        Ok(Policy {
            file,
            classes,
            exception_globs,
        })
    }

    /// The class and reason of one license id as listed (falls back to `unlisted`).
    pub fn class_of(&self, id: &str) -> (Class, String) {
        if id == UNKNOWN || id == "NOASSERTION" || id == "NONE" {
            return (
                Class::Unresolved,
                format!("`{id}`: no license could be determined"),
            );
        }
        // "GPL-2.0-only WITH Classpath-exception-2.0" and "Apache-2.0+" fall back to their base.
        let base = id.split(" WITH ").next().unwrap_or(id);
        for key in [id, base, base.trim_end_matches('+')] {
            if let Some((c, r)) = self.classes.get(key) {
                return (
                    (*c).into(),
                    format!("`{key}` is in `{}`: {r}", list_name(*c)),
                );
            }
        }
        (
            self.file.unlisted.into(),
            format!(
                "`{id}` is in no list; unlisted licenses are `{}`",
                list_name(self.file.unlisted)
            ),
        )
    }

    /// Classes an SPDX expression: AND keeps its worst part, OR its best. Unparseable or
    /// unknown is unresolved. With `trusted`, LicenseRef-* parts count as allowed.
    pub fn class_of_expr(&self, expr: &str, trusted: bool) -> (Class, Vec<String>) {
        let Some(e) = parse(expr) else {
            return (
                Class::Unresolved,
                vec![format!("`{expr}` is not a license expression")],
            );
        };
        let mut stack: Vec<(Class, Vec<String>)> = Vec::new();
        for node in e.iter() {
            match node {
                ExprNode::Req(r) => {
                    let id = r.req.to_string();
                    if trusted && id.starts_with("LicenseRef-") {
                        stack.push((
                            Class::Allow,
                            vec![format!(
                                "`{id}`: the source's rights basis stands in for the grant"
                            )],
                        ));
                    } else {
                        let (c, why) = self.class_of(&id);
                        stack.push((c, vec![why]));
                    }
                }
                ExprNode::Op(op) => {
                    let (Some(b), Some(a)) = (stack.pop(), stack.pop()) else {
                        return (Class::Unresolved, vec![format!("`{expr}` is malformed")]);
                    };
                    let worst = matches!(op, Operator::And);
                    let pick = match a.0.cmp(&b.0) {
                        std::cmp::Ordering::Equal => {
                            let mut r = a.1;
                            r.extend(b.1);
                            (a.0, r)
                        }
                        std::cmp::Ordering::Greater if worst => a,
                        std::cmp::Ordering::Less if !worst => a,
                        _ => b,
                    };
                    stack.push(pick);
                }
            }
        }
        stack
            .pop()
            .unwrap_or((Class::Unresolved, vec![format!("`{expr}` is empty")]))
    }

    /// Exceptions that apply to a document under a profile, in file order.
    fn exceptions_for<'a>(
        &'a self,
        profile: &'a str,
        doc: &'a Document,
    ) -> impl Iterator<Item = &'a Exception> + 'a {
        self.file
            .exceptions
            .iter()
            .zip(&self.exception_globs)
            .filter(move |(x, globs)| {
                x.source == doc.provenance.source_id
                    && x.profiles.iter().any(|p| p == profile)
                    && (globs.is_empty() || globs.iter().any(|g| g.is_match(&doc.provenance.path)))
            })
            .map(|(x, _)| x)
    }

    /// Whether `doc`, with license `verdict`, may be used under `profile`.
    pub fn decide(&self, profile: &str, verdict: &LicenseVerdict, doc: &Document) -> Decision {
        let deny = |class, reason: String| Decision {
            allowed: false,
            class,
            reason,
            weak_evidence: false,
        };
        let Some(prof) = self.file.profiles.get(profile) else {
            let known: Vec<&str> = self.file.profiles.keys().map(String::as_str).collect();
            return deny(
                Class::Deny,
                format!("unknown profile `{profile}` (known: {})", known.join(", ")),
            );
        };
        if verdict.id != doc.id {
            return deny(
                Class::Unresolved,
                format!("the verdict is for document {}, not {}", verdict.id, doc.id),
            );
        }
        let rights = doc.provenance.rights_basis;
        if !prof.rights_basis.contains(&rights) {
            return deny(
                Class::Deny,
                format!(
                    "profile `{profile}` does not use `{}` sources",
                    rights.as_str()
                ),
            );
        }
        let exceptions: Vec<&Exception> = self.exceptions_for(profile, doc).collect();
        if let Some(x) = exceptions.iter().find(|x| x.action == Action::Deny) {
            return deny(
                Class::Deny,
                format!("exception by {} on {}: {}", x.who, x.date, x.why),
            );
        }
        let trusted = prof.trust_rights.contains(&rights);
        let concluded = (verdict.status == Status::Unresolved)
            .then(|| {
                exceptions
                    .iter()
                    .find_map(|x| x.license.as_ref().map(|l| (*x, l)))
            })
            .flatten();
        let (mut class, mut why) = match concluded {
            Some((x, l)) => {
                let expr = normalize(l).map(|n| n.expr).unwrap_or_else(|_| l.clone());
                let (c, mut w) = self.class_of_expr(&expr, trusted);
                w.insert(
                    0,
                    format!("{} concluded `{expr}` on {}: {}", x.who, x.date, x.why),
                );
                (c, w)
            }
            None if verdict.status == Status::Unresolved => (
                Class::Unresolved,
                vec![format!(
                    "the license audit left `{}` unresolved",
                    verdict.spdx
                )],
            ),
            None => self.class_of_expr(&verdict.spdx, trusted),
        };
        // A verdict on weak evidence is worth at most the profile's `weak-evidence` class.
        let mut weak = false;
        if verdict.weak_evidence && concluded.is_none() && verdict.status == Status::Resolved {
            let cap: Class = prof.weak_evidence_class().into();
            if cap > class {
                class = cap;
                weak = true;
                why.insert(0, format!(
                    "weak_evidence: the license rests only on {}; profile `{profile}` takes verdicts on weak evidence as `{}` at best",
                    weak_source(verdict),
                    cap.as_str()
                ));
            }
        }
        let deny = |class, reason: String| Decision {
            allowed: false,
            class,
            reason,
            weak_evidence: weak,
        };
        if class == Class::Deny {
            return deny(class, why.join("; "));
        }
        if class == Class::Unresolved && trusted {
            why.push(format!(
                "admitted: `{}` sources are trusted by profile `{profile}`",
                rights.as_str()
            ));
            return Decision {
                allowed: true,
                class,
                reason: why.join("; "),
                weak_evidence: weak,
            };
        }
        if class == Class::Unresolved {
            return deny(class, why.join("; "));
        }
        let admitted = prof.admit.iter().any(|a| Class::from(*a) == class);
        if admitted {
            return Decision {
                allowed: true,
                class,
                reason: why.join("; "),
                weak_evidence: weak,
            };
        }
        if class == Class::Review {
            if let Some(x) = exceptions.iter().find(|x| x.action == Action::Allow) {
                why.push(format!(
                    "admitted by exception of {} on {}: {}",
                    x.who, x.date, x.why
                ));
                return Decision {
                    allowed: true,
                    class,
                    reason: why.join("; "),
                    weak_evidence: weak,
                };
            }
        }
        why.push(format!(
            "profile `{profile}` admits only {}",
            prof.admit
                .iter()
                .map(|a| list_name(*a))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        deny(class, why.join("; "))
    }

    /// The gate: every document `profile` refuses, with the decision. Documents without a
    /// verdict are refused as unresolved.
    pub fn refused(
        &self,
        profile: &str,
        docs: &[Document],
        verdicts: &[LicenseVerdict],
    ) -> Vec<(String, String, Decision)> {
        let by_id: BTreeMap<&str, &LicenseVerdict> =
            verdicts.iter().map(|v| (v.id.as_str(), v)).collect();
        docs.iter()
            .filter_map(|d| {
                let decision = match by_id.get(d.id.as_str()) {
                    Some(v) => self.decide(profile, v, d),
                    None => Decision {
                        allowed: false,
                        class: Class::Unresolved,
                        reason: "no license verdict; run the license audit".into(),
                        weak_evidence: false,
                    },
                };
                (!decision.allowed).then(|| (d.id.clone(), d.provenance.path.clone(), decision))
            })
            .collect()
    }
}

/// Where a weak verdict's evidence is: "a README statement (`README.md:11`: \"MIT\")".
fn weak_source(verdict: &LicenseVerdict) -> String {
    let readmes: Vec<String> = verdict
        .evidence
        .iter()
        .filter(|e| e.used)
        .map(|e| {
            let at = match e.line {
                Some(n) => format!("{}:{n}", e.path),
                None => e.path.clone(),
            };
            format!("`{at}`: \"{}\"", e.matched)
        })
        .collect();
    if readmes.is_empty() {
        "a README statement".into()
    } else {
        format!("a README statement ({})", readmes.join(", "))
    }
}

fn list_name(c: ListClass) -> &'static str {
    match c {
        ListClass::Allow => "allow",
        ListClass::Review => "review",
        ListClass::Deny => "deny",
    }
}

#[cfg(test)]
mod tests;
