//! The promotion gate: is candidate report B good enough to replace baseline A?
//!
//! B passes when both reports scored the same task set, B's overall pass@1 is strictly higher
//! than A's, no category's pass@1 dropped by more than `max_drop_points` percentage points, and
//! B's model is not known to have trained on the tasks (contamination `contaminated`). Every
//! reason for a failure is listed; what makes the comparison weaker without deciding it (B's
//! contamination unverified, different sampling settings) is listed as a warning. This module
//! decides nothing else and never rescores.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::report::{pct, Aggregate, ContaminationStatus, GenerationInputs, Report};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CategoryDelta {
    pub name: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// (b - a) in percentage points, when both exist.
    pub delta_points: Option<f64>,
    pub ok: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateDecision {
    pub passed: bool,
    pub max_drop_points: f64,
    pub overall_a: Option<f64>,
    pub overall_b: Option<f64>,
    pub overall_delta_points: Option<f64>,
    pub categories: Vec<CategoryDelta>,
    /// Why the gate failed (empty when it passed).
    pub reasons: Vec<String>,
    /// What weakens the comparison without failing it.
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn points(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some((b? - a?) * 100.0)
}

/// Applies the promotion gate to baseline `a` and candidate `b`.
pub fn gate(a: &Report, b: &Report, max_drop_points: f64) -> GateDecision {
    let mut reasons = Vec::new();
    if a.inputs.task_set_id != b.inputs.task_set_id {
        reasons.push(format!(
            "the reports scored different task sets ({} vs {}); compare runs over the same tasks",
            a.inputs.task_set_id, b.inputs.task_set_id
        ));
    }
    let warnings = warnings(a, b);
    if b.contamination.status == ContaminationStatus::Contaminated {
        reasons.push(format!(
            "B's model trained on data containing these tasks: {}",
            b.contamination.message
        ));
    }
    let (oa, ob) = (a.overall.pass_at_1, b.overall.pass_at_1);
    let overall_delta = points(oa, ob);
    match overall_delta {
        None => {
            reasons.push("overall pass@1 is missing from a report (no executable tasks?)".into())
        }
        Some(d) if d <= 0.0 => reasons.push(format!(
            "overall pass@1 did not improve: {} -> {} ({:+.1} points)",
            pct(oa),
            pct(ob),
            d
        )),
        Some(_) => {}
    }
    let find = |r: &Report, name: &str| -> Option<Aggregate> {
        r.categories.iter().find(|c| c.name == name).cloned()
    };
    let mut names: Vec<String> = a
        .categories
        .iter()
        .chain(&b.categories)
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    names.dedup();
    let mut categories = Vec::new();
    for name in names {
        let ca = find(a, &name).and_then(|c| c.pass_at_1);
        let cb = find(b, &name).and_then(|c| c.pass_at_1);
        let delta = points(ca, cb);
        let ok = match (ca, cb, delta) {
            (None, _, _) => true, // new or unscorable in the baseline: nothing to drop from
            (Some(_), None, _) => {
                reasons.push(format!("category `{name}` has a pass@1 in A but none in B"));
                false
            }
            (_, _, Some(d)) if d < -max_drop_points => {
                reasons.push(format!(
                    "category `{name}` dropped {:.1} points ({} -> {}), more than the allowed {max_drop_points}",
                    -d,
                    pct(ca),
                    pct(cb)
                ));
                false
            }
            _ => true,
        };
        categories.push(CategoryDelta {
            name,
            a: ca,
            b: cb,
            delta_points: delta,
            ok,
        });
    }
    GateDecision {
        passed: reasons.is_empty(),
        max_drop_points,
        overall_a: oa,
        overall_b: ob,
        overall_delta_points: overall_delta,
        categories,
        reasons,
        warnings,
    }
}

/// Differences that make the two runs less comparable.
fn warnings(a: &Report, b: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if b.contamination.status == ContaminationStatus::Unverified {
        out.push(format!(
            "B's contamination is unverified: {}",
            b.contamination.message
        ));
    }
    match (&a.inputs.generation, &b.inputs.generation) {
        (Some(ga), Some(gb)) => {
            let settings = |g: &GenerationInputs| {
                format!(
                    "samples {}, temperature {}, top_p {}, max_tokens {}, stop {:?}, template vars {:?}",
                    g.samples, g.temperature, g.top_p, g.max_tokens, g.stop, g.template_vars
                )
            };
            if settings(ga) != settings(gb) {
                out.push(format!(
                    "the runs sampled differently: A {}; B {}",
                    settings(ga),
                    settings(gb)
                ));
            }
        }
        (None, None) => {}
        _ => out.push(
            "one run generated its responses and the other scored precomputed ones; their sampling may differ"
                .into(),
        ),
    }
    if a.overall.k != b.overall.k {
        out.push(format!(
            "pass@k uses k = {} in A and {} in B",
            a.overall.k, b.overall.k
        ));
    }
    out
}

/// The gate decision as Markdown.
pub fn to_markdown(d: &GateDecision) -> String {
    let mut s = format!(
        "# vcurate eval compare: {}\n\noverall pass@1: {} -> {} ({})\n\n",
        if d.passed { "PASS" } else { "FAIL" },
        pct(d.overall_a),
        pct(d.overall_b),
        d.overall_delta_points
            .map_or("n/a".into(), |p| format!("{p:+.1} points"))
    );
    s.push_str(&format!(
        "| category | A pass@1 | B pass@1 | change | within {} points |\n|---|---:|---:|---:|:---:|\n",
        d.max_drop_points
    ));
    for c in &d.categories {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.name,
            pct(c.a),
            pct(c.b),
            c.delta_points.map_or("n/a".into(), |p| format!("{p:+.1}")),
            if c.ok { "yes" } else { "**no**" }
        ));
    }
    if !d.reasons.is_empty() {
        s.push_str("\n## Why it failed\n\n");
        for r in &d.reasons {
            s.push_str(&format!("- {r}\n"));
        }
    }
    if !d.warnings.is_empty() {
        s.push_str("\n## Warnings\n\n");
        for w in &d.warnings {
            s.push_str(&format!("- {w}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::report::{Contamination, Inputs};
    use std::collections::BTreeMap;

    fn agg(name: &str, p: Option<f64>) -> Aggregate {
        Aggregate {
            name: name.into(),
            tasks: 1,
            executable_tasks: 1,
            samples: 1,
            pass_at_1: p,
            k: 1,
            pass_at_k: p,
            pass_at_k_note: None,
            parse_rate: None,
            compile_rate: None,
            typecheck_rate: None,
            typecheck_na: 0,
            test_pass_rate: None,
            test_case_rate: None,
            pattern_score: None,
            tasks_without_tests: 0,
            stub_samples: 0,
        }
    }

    fn report(overall: f64, cats: &[(&str, f64)], set: &str) -> Report {
        Report {
            tool_version: "t".into(),
            headline: "h".into(),
            inputs: Inputs {
                tasks_file: "t".into(),
                tasks_sha256: "x".into(),
                responses_file: "r".into(),
                responses_sha256: "y".into(),
                task_set_id: set.into(),
                generation: None,
            },
            overall: agg("overall", Some(overall)),
            categories: cats.iter().map(|(n, p)| agg(n, Some(*p))).collect(),
            verdicts: BTreeMap::new(),
            not_executable: vec![],
            contamination: Contamination::unverified(),
            notes: vec![],
        }
    }

    #[test]
    fn improvement_within_the_drop_budget_passes() {
        let a = report(0.50, &[("strings", 0.60), ("tables", 0.40)], "s");
        let b = report(0.55, &[("strings", 0.57), ("tables", 0.53)], "s");
        let d = gate(&a, &b, 5.0);
        assert!(d.passed, "{:?}", d.reasons);
        assert!((d.overall_delta_points.unwrap() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn a_category_dropping_too_far_fails_even_if_overall_improves() {
        let a = report(0.50, &[("strings", 0.60), ("tables", 0.40)], "s");
        let b = report(0.55, &[("strings", 0.50), ("tables", 0.60)], "s");
        let d = gate(&a, &b, 5.0);
        assert!(!d.passed);
        assert_eq!(d.reasons.len(), 1);
        assert!(
            d.reasons[0].contains("`strings` dropped 10.0 points"),
            "{:?}",
            d.reasons
        );
        assert!(
            gate(&a, &b, 10.0).passed,
            "a 10-point budget allows a 10-point drop"
        );
    }

    #[test]
    fn no_overall_improvement_fails() {
        let a = report(0.50, &[("strings", 0.50)], "s");
        let d = gate(&a, &a.clone(), 5.0);
        assert!(!d.passed);
        assert!(d.reasons[0].contains("did not improve"));
    }

    #[test]
    fn different_task_sets_and_missing_categories_fail() {
        let a = report(0.50, &[("strings", 0.50), ("tables", 0.50)], "s1");
        let mut b = report(0.60, &[("strings", 0.60)], "s2");
        b.categories.push(agg("tables", None));
        let d = gate(&a, &b, 5.0);
        assert!(!d.passed);
        assert!(d.reasons.iter().any(|r| r.contains("different task sets")));
        assert!(d
            .reasons
            .iter()
            .any(|r| r.contains("`tables` has a pass@1 in A but none in B")));
        let md = to_markdown(&d);
        assert!(md.starts_with("# vcurate eval compare: FAIL"));
    }

    #[test]
    fn contaminated_candidates_fail_and_weaker_comparisons_warn() {
        let a = report(0.50, &[("strings", 0.50)], "s");
        let mut b = report(0.70, &[("strings", 0.70)], "s");
        let d = gate(&a, &b, 5.0);
        assert!(d.passed, "unverified warns, it does not fail");
        assert!(d.warnings.iter().any(|w| w.contains("unverified")));
        assert!(to_markdown(&d).contains("## Warnings"));

        b.contamination = Contamination {
            status: ContaminationStatus::Contaminated,
            message: "snapshot x kept task strings-1".into(),
        };
        let d = gate(&a, &b, 5.0);
        assert!(!d.passed);
        assert!(
            d.reasons.iter().any(|r| r.contains("strings-1")),
            "{:?}",
            d.reasons
        );

        b.contamination = Contamination {
            status: ContaminationStatus::Clean,
            message: "checked".into(),
        };
        let generation = |temperature: f64| GenerationInputs {
            model_dir: "m".into(),
            model_config_sha256: "c".into(),
            adapter: None,
            samples: 1,
            temperature,
            top_p: 1.0,
            max_tokens: 512,
            stop: vec![],
            seed: 0,
            eos_token_ids: vec![2],
            generated_tokens: 10,
            stop_reasons: BTreeMap::new(),
            device: "cpu".into(),
            template_vars: BTreeMap::new(),
        };
        let mut a = a;
        a.inputs.generation = Some(generation(0.0));
        b.inputs.generation = Some(generation(0.0));
        assert!(
            gate(&a, &b, 5.0).warnings.is_empty(),
            "same settings, clean B"
        );
        b.inputs.generation = Some(generation(0.8));
        let d = gate(&a, &b, 5.0);
        assert!(d.passed);
        assert!(
            d.warnings.iter().any(|w| w.contains("sampled differently")),
            "{:?}",
            d.warnings
        );
        b.inputs.generation = None;
        assert!(gate(&a, &b, 5.0)
            .warnings
            .iter()
            .any(|w| w.contains("precomputed")));
    }
}
