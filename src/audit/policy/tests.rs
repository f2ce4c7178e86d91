use super::*;
use crate::audit::license::{LicenseVerdict, Status};
use crate::audit::test_support::doc;
use crate::core::hash::SplitMix64;
use crate::core::RightsBasis;

fn verdict(d: &Document, spdx: &str, status: Status) -> LicenseVerdict {
    let mut v = LicenseVerdict::empty(&d.id, &d.provenance.source_id, &d.provenance.path, spdx);
    if status == Status::Resolved {
        v.confidence = 0.99;
    }
    v.status = status;
    v
}

fn doc_with(source: &str, path: &str, rights: RightsBasis) -> Document {
    let mut d = doc(source, path, "return {}\n", Vec::new());
    d.provenance.rights_basis = rights;
    d
}

fn decide(p: &Policy, profile: &str, spdx: &str, rights: RightsBasis) -> Decision {
    let d = doc_with("lib", "src/a.lua", rights);
    let status = if spdx.contains("unknown") || spdx == "NOASSERTION" {
        Status::Unresolved
    } else {
        Status::Resolved
    };
    p.decide(profile, &verdict(&d, spdx, status), &d)
}

#[test]
fn default_policy_parses_and_classes_this_repositorys_sources() {
    let p = Policy::default_policy();
    let os = RightsBasis::OpenSource;
    // The licenses our sources declare: MIT, Apache-2.0, MPL-2.0, CC-BY-4.0 AND MIT.
    for (spdx, train, publish) in [
        ("MIT", true, true),
        ("Apache-2.0", true, true),
        ("CC-BY-4.0 AND MIT", true, true),
        ("MPL-2.0", true, false),
        ("GPL-3.0-only", true, false),
        ("AGPL-3.0-only", false, false),
        ("JSON", false, false),
        ("LicenseRef-unknown", false, false),
        ("NOASSERTION", false, false),
        // OR: one admitted branch is enough; AND: every part must be.
        ("MIT OR AGPL-3.0-only", true, true),
        ("MIT AND MPL-2.0", true, false),
        ("MIT AND AGPL-3.0-only", false, false),
        ("(MIT OR GPL-3.0-only) AND Apache-2.0", true, true),
    ] {
        let t = decide(&p, "train", spdx, os);
        let u = decide(&p, "publish", spdx, os);
        assert_eq!(
            (t.allowed, u.allowed),
            (train, publish),
            "{spdx}: train {t:?} publish {u:?}"
        );
        assert!(!u.reason.is_empty());
    }
    let d = decide(&p, "publish", "MPL-2.0", os);
    assert_eq!(d.class, Class::Review);
    assert!(d.reason.contains("MPL-2.0"), "{}", d.reason);
    assert_eq!(
        decide(&p, "publish", "AGPL-3.0-only", os).class,
        Class::Deny
    );
    assert_eq!(
        decide(&p, "publish", "LicenseRef-unknown", os).class,
        Class::Unresolved
    );
}

#[test]
fn rights_basis_own_and_permissioned_train_but_never_publish() {
    let p = Policy::default_policy();
    for rights in [RightsBasis::OwnCodebase, RightsBasis::Permissioned] {
        // Permissive or not, own material is never published.
        let d = decide(&p, "publish", "MIT", rights);
        assert!(!d.allowed && d.reason.contains(rights.as_str()), "{d:?}");
        // Training: proprietary and unresolved own files are fine ...
        assert!(decide(&p, "train", "LicenseRef-proprietary", rights).allowed);
        assert!(decide(&p, "train", "LicenseRef-unknown", rights).allowed);
        assert!(decide(&p, "train", "MIT", rights).allowed);
        // ... but a vendored AGPL file in our own tree is someone else's terms.
        assert!(!decide(&p, "train", "AGPL-3.0-only", rights).allowed);
    }
    // Someone else's "All rights reserved" file in an open-source repository.
    assert!(
        !decide(
            &p,
            "train",
            "LicenseRef-proprietary",
            RightsBasis::OpenSource
        )
        .allowed
    );
    assert!(!decide(&p, "no-such-profile", "MIT", RightsBasis::OpenSource).allowed);
}

/// A verdict that rests only on a README statement, as the license audit marks it.
fn weak_verdict(d: &Document, spdx: &str) -> LicenseVerdict {
    let mut v = verdict(d, spdx, Status::Resolved);
    v.confidence = 0.5;
    v.weak_evidence = true;
    v.evidence.push(crate::audit::license::Evidence {
        kind: crate::audit::license::EvidenceKind::Readme,
        path: "README.md".into(),
        line: Some(11),
        matched: "MIT (or your preferred license).".into(),
        score: 0.5,
        license: Some(spdx.into()),
        fixture: false,
        used: true,
        ignored: None,
    });
    v
}

#[test]
fn weak_evidence_alone_never_satisfies_a_redistributable_profile() {
    let p = Policy::default_policy();
    let d = doc_with("game", "src/a.lua", RightsBasis::OpenSource);
    let v = weak_verdict(&d, "MIT");
    // Training takes it (the default `train` says weak-evidence = "allow") ...
    let t = p.decide("train", &v, &d);
    assert!(t.allowed && !t.weak_evidence, "{t:?}");
    // ... publishing sends it to review, and says why first.
    let u = p.decide("publish", &v, &d);
    assert!(!u.allowed && u.weak_evidence, "{u:?}");
    assert_eq!(u.class, Class::Review);
    assert!(
        u.reason.starts_with(
            "weak_evidence: the license rests only on a README statement (`README.md:11`: \"MIT (or your preferred license).\")"
        ),
        "{}",
        u.reason
    );
    // The cap never improves a class: a README naming a denied license stays denied.
    let agpl = p.decide("publish", &weak_verdict(&d, "AGPL-3.0-only"), &d);
    assert!(!agpl.allowed && !agpl.weak_evidence && agpl.class == Class::Deny);
    // A person's exception admits it, as it admits any review material.
    let text = format!("{DEFAULT_POLICY}\n[[exception]]\nsource = \"game\"\naction = \"allow\"\nprofiles = [\"publish\"]\nwho = \"Jane Doe\"\nwhy = \"Asked the author: MIT, confirmed in issue #3.\"\ndate = \"2025-03-01\"\n");
    let px = Policy::parse(Path::new("licenses/policy.toml"), &text).unwrap();
    let x = px.decide("publish", &v, &d);
    assert!(x.allowed && x.reason.contains("Jane Doe"), "{x:?}");
    // Unset, the default follows `redistributable`; "deny" refuses outright.
    let base = "unlisted = \"review\"\n[[allow]]\nid = \"MIT\"\nreason = \"ok\"\n[profiles.train]\nadmit = [\"allow\"]\nrights-basis = [\"open_source\"]\nredistributable = false\n[profiles.publish]\nadmit = [\"allow\"]\nrights-basis = [\"open_source\"]\nredistributable = true\n";
    let plain = Policy::parse(Path::new("p.toml"), base).unwrap();
    assert!(plain.decide("train", &v, &d).allowed);
    assert_eq!(plain.decide("publish", &v, &d).class, Class::Review);
    let strict = Policy::parse(
        Path::new("p.toml"),
        &base.replace(
            "redistributable = false",
            "redistributable = false\nweak-evidence = \"deny\"",
        ),
    )
    .unwrap();
    let t = strict.decide("train", &v, &d);
    assert!(
        !t.allowed && t.weak_evidence && t.class == Class::Deny,
        "{t:?}"
    );
}

const EXCEPTIONS: &str = r#"
[[exception]]
source = "lib"
paths = ["src/**"]
action = "allow"
profiles = ["publish"]
license = "MIT"
who = "Jane Doe"
why = "Read the custom LICENSE: it is MIT with a changed disclaimer."
date = "2025-02-01"

[[exception]]
source = "other"
action = "deny"
profiles = ["train", "publish"]
who = "Jane Doe"
why = "Upstream asked us not to use it."
date = "2025-02-02"
"#;

#[test]
fn exceptions_conclude_allow_and_deny_but_never_admit_denied_licenses() {
    let text = format!("{DEFAULT_POLICY}\n{EXCEPTIONS}");
    let p = Policy::parse(Path::new("licenses/policy.toml"), &text).unwrap();
    let os = RightsBasis::OpenSource;
    // A person's conclusion resolves an unresolved verdict under src/ ...
    let d = decide(&p, "publish", "LicenseRef-unknown", os);
    assert!(d.allowed && d.reason.contains("Jane Doe"), "{d:?}");
    // ... only where it applies (path glob, profile).
    let outside = doc_with("lib", "lib/b.lua", os);
    let v = verdict(&outside, UNKNOWN, Status::Unresolved);
    assert!(!p.decide("publish", &v, &outside).allowed);
    assert!(!decide(&p, "train", "LicenseRef-unknown", os).allowed);
    // The allow action admits review material in its profile, never denied material.
    assert!(decide(&p, "publish", "MPL-2.0", os).allowed);
    assert!(!decide(&p, "publish", "AGPL-3.0-only", os).allowed);
    // A conclusion does not override a resolved verdict.
    let d = decide(&p, "publish", "GPL-3.0-only AND MIT", os);
    assert!(d.allowed, "review + allow exception: {d:?}");
    // Deny exceptions refuse everything of their source.
    let o = doc_with("other", "src/a.lua", os);
    let d = p.decide("train", &verdict(&o, "MIT", Status::Resolved), &o);
    assert!(!d.allowed && d.reason.contains("Upstream asked"), "{d:?}");
}

#[test]
fn policy_mistakes_name_file_and_line() {
    let path = Path::new("licenses/policy.toml");
    let base = "unlisted = \"review\"\n[profiles.train]\nadmit = [\"allow\"]\nrights-basis = [\"open_source\"]\nredistributable = false\n[profiles.publish]\nadmit = [\"allow\"]\nrights-basis = [\"open_source\"]\nredistributable = true\n";
    assert!(Policy::parse(path, base).is_ok());
    let bad = |extra: &str, line: usize, needle: &str| {
        let text = format!("{base}{extra}");
        let e = Policy::parse(path, &text).unwrap_err();
        assert_eq!(e.line, Some(line), "{e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("licenses/policy.toml:{line}: ")),
            "{msg}"
        );
        assert!(msg.contains(needle), "{msg}");
    };
    bad(
        "[[allow]]\nid = \"Apache 2\"\nreason = \"x\"\n",
        11,
        "did you mean `Apache-2.0`",
    );
    bad(
        "[[allow]]\nid = \"MIT\"\nreason = \"x\"\n[[deny]]\nid = \"MIT\"\nreason = \"y\"\n",
        11,
        "listed twice",
    );
    bad("[[allow]]\nid = \"MIT\"\nreson = \"x\"\n", 12, "reson");
    bad("[[exception]]\nsource = \"lib\"\naction = \"allow\"\nprofiles = [\"train\"]\nwhy = \"w\"\ndate = \"2025-01-01\"\n", 10, "who");
    bad("[[exception]]\nsource = \"lib\"\naction = \"allow\"\nprofiles = [\"train\"]\nwho = \"a\"\nwhy = \"w\"\ndate = \"last week\"\n", 11, "YYYY-MM-DD");
    bad("[[exception]]\nsource = \"lib\"\naction = \"allow\"\nprofiles = [\"ship\"]\nwho = \"a\"\nwhy = \"w\"\ndate = \"2025-01-01\"\n", 11, "unknown profile `ship`");
    let e = Policy::parse(
        path,
        &base.replace(
            "redistributable = true",
            "redistributable = true\ntrust-rights = [\"own_codebase\"]",
        ),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot trust"), "{e}");
    let e =
        Policy::parse(path, &base.replace("[profiles.publish]", "[profiles.ship]")).unwrap_err();
    assert!(e.to_string().contains("[profiles.publish]"), "{e}");
    // Weak evidence can never be `allow` where the material is shipped to others ...
    let e = Policy::parse(
        path,
        &base.replace(
            "redistributable = true",
            "redistributable = true\nweak-evidence = \"allow\"",
        ),
    )
    .unwrap_err();
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.to_string().contains("weak evidence"), "{e}");
    // ... and the key is checked like every other.
    bad_at(
        path,
        &base.replace(
            "redistributable = true",
            "redistributable = true\nweak-evidence = \"maybe\"",
        ),
        10,
        "maybe",
    );
    bad_at(
        path,
        &base.replace(
            "redistributable = true",
            "redistributable = true\nweak-evidense = \"review\"",
        ),
        10,
        "weak-evidense",
    );
}

fn bad_at(path: &Path, text: &str, line: usize, needle: &str) {
    let e = Policy::parse(path, text).unwrap_err();
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.to_string().contains(needle), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The gate property: under `publish`, nothing denied or unresolved gets through.

const POOL: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "MPL-2.0",
    "GPL-3.0-only",
    "AGPL-3.0-only",
    "CC-BY-4.0",
    "JSON",
    "Zlib",
    "BSD-3-Clause",
    "EPL-2.0",
    "LicenseRef-proprietary",
    "LicenseRef-custom",
    "LicenseRef-unknown",
];

/// An expression tree the oracle evaluates without the `spdx` parser.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(&'static str),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

impl Tree {
    fn random(rng: &mut SplitMix64, depth: u32) -> Tree {
        if depth == 0 || rng.below(3) == 0 {
            return Tree::Leaf(POOL[rng.below(POOL.len())]);
        }
        let a = Box::new(Tree::random(rng, depth - 1));
        let b = Box::new(Tree::random(rng, depth - 1));
        if rng.below(2) == 0 {
            Tree::And(a, b)
        } else {
            Tree::Or(a, b)
        }
    }
    fn render(&self) -> String {
        match self {
            Tree::Leaf(l) => l.to_string(),
            Tree::And(a, b) => format!("({} AND {})", a.render(), b.render()),
            Tree::Or(a, b) => format!("({} OR {})", a.render(), b.render()),
        }
    }
    fn has(&self, leaf: &str) -> bool {
        match self {
            Tree::Leaf(l) => *l == leaf,
            Tree::And(a, b) | Tree::Or(a, b) => a.has(leaf) || b.has(leaf),
        }
    }
    /// 0 allow, 1 review, 2 unresolved, 3 deny; AND is the worst part, OR the best.
    fn class(&self, lists: &BTreeMap<&str, u8>, unlisted: u8) -> u8 {
        match self {
            Tree::Leaf("LicenseRef-unknown") => 2,
            Tree::Leaf(l) => *lists.get(l).unwrap_or(&unlisted),
            Tree::And(a, b) => a.class(lists, unlisted).max(b.class(lists, unlisted)),
            Tree::Or(a, b) => a.class(lists, unlisted).min(b.class(lists, unlisted)),
        }
    }
}

struct Generated {
    text: String,
    lists: BTreeMap<&'static str, u8>,
    unlisted: u8,
    publish_admit: Vec<u8>,
    publish_rights: Vec<RightsBasis>,
    train_trust: Vec<RightsBasis>,
    /// (source, only under src/, deny?, concluded license)
    publish_exceptions: Vec<(&'static str, bool, bool, Option<&'static str>)>,
    /// The class code `weak-evidence` gives publish (1 review, 3 deny; unset reads as review).
    publish_weak: u8,
}

const RIGHTS: &[RightsBasis] = &[
    RightsBasis::OpenSource,
    RightsBasis::PublicDomain,
    RightsBasis::Generated,
    RightsBasis::OwnCodebase,
    RightsBasis::Permissioned,
];

fn random_policy(rng: &mut SplitMix64) -> Generated {
    let names = ["allow", "review", "deny"];
    let mut text = String::new();
    let unlisted = rng.below(3) as u8;
    let unlisted_code = if unlisted == 2 { 3 } else { unlisted };
    text.push_str(&format!("unlisted = \"{}\"\n", names[unlisted as usize]));
    let mut lists = BTreeMap::new();
    for leaf in POOL.iter().filter(|l| **l != "LicenseRef-unknown") {
        let k = rng.below(4);
        if k < 3 {
            text.push_str(&format!(
                "[[{}]]\nid = \"{leaf}\"\nreason = \"generated\"\n",
                names[k]
            ));
            lists.insert(*leaf, if k == 2 { 3 } else { k as u8 });
        }
    }
    let admit = |rng: &mut SplitMix64| -> Vec<u8> {
        match rng.below(4) {
            0 => vec![],
            1 => vec![0],
            2 => vec![1],
            _ => vec![0, 1],
        }
    };
    let render_admit = |a: &[u8]| {
        a.iter()
            .map(|c| format!("\"{}\"", names[*c as usize]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let train_admit = admit(rng);
    let train_trust: Vec<RightsBasis> = RIGHTS
        .iter()
        .copied()
        .filter(|_| rng.below(2) == 0)
        .collect();
    let render_rights = |r: &[RightsBasis]| {
        r.iter()
            .map(|x| format!("\"{}\"", x.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    text.push_str(&format!(
        "[profiles.train]\nadmit = [{}]\nrights-basis = [{}]\ntrust-rights = [{}]\nredistributable = false\n",
        render_admit(&train_admit),
        render_rights(RIGHTS),
        render_rights(&train_trust)
    ));
    let publish_admit = admit(rng);
    let publish_rights: Vec<RightsBasis> = RIGHTS[..3]
        .iter()
        .copied()
        .filter(|_| rng.below(3) > 0)
        .collect();
    let (publish_weak, weak_line) = match rng.below(3) {
        0 => (1, ""),
        1 => (1, "weak-evidence = \"review\"\n"),
        _ => (3, "weak-evidence = \"deny\"\n"),
    };
    text.push_str(&format!(
        "[profiles.publish]\nadmit = [{}]\nrights-basis = [{}]\nredistributable = true\n{weak_line}",
        render_admit(&publish_admit),
        render_rights(&publish_rights)
    ));
    let mut publish_exceptions = Vec::new();
    for _ in 0..rng.below(4) {
        let source = *rng.pick(&["s1", "s2"]);
        let src_only = rng.below(2) == 0;
        let deny = rng.below(3) == 0;
        let license = (rng.below(2) == 0).then(|| *rng.pick(&POOL[..POOL.len() - 1]));
        let profiles = *rng.pick(&[&["train"][..], &["publish"][..], &["train", "publish"][..]]);
        text.push_str(&format!(
            "[[exception]]\nsource = \"{source}\"\n{}action = \"{}\"\nprofiles = [{}]\n{}who = \"Tester\"\nwhy = \"generated\"\ndate = \"2025-01-01\"\n",
            if src_only { "paths = [\"src/**\"]\n" } else { "" },
            if deny { "deny" } else { "allow" },
            profiles.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", "),
            license.map(|l| format!("license = \"{l}\"\n")).unwrap_or_default(),
        ));
        if profiles.contains(&"publish") {
            publish_exceptions.push((source, src_only, deny, license));
        }
    }
    Generated {
        text,
        lists,
        unlisted: unlisted_code,
        publish_admit,
        publish_rights,
        train_trust,
        publish_exceptions,
        publish_weak,
    }
}

#[test]
fn property_publish_never_admits_denied_or_unresolved() {
    let mut rng = SplitMix64::new(0x5eed_1ce5);
    let (mut allowed, mut refused) = (0, 0);
    for round in 0..300 {
        let g = random_policy(&mut rng);
        let policy = Policy::parse(Path::new("generated.toml"), &g.text).unwrap_or_else(|e| {
            panic!("round {round}: generated policy rejected: {e}\n{}", g.text)
        });
        for _ in 0..40 {
            let tree = Tree::random(&mut rng, 3);
            let spdx = tree.render();
            let source = *rng.pick(&["s1", "s2"]);
            let path = *rng.pick(&["src/a.lua", "lib/b.lua"]);
            let rights = *rng.pick(RIGHTS);
            // The audit leaves unknown text unresolved, and sometimes a clean but weak reading.
            let status = if tree.has("LicenseRef-unknown") || rng.below(6) == 0 {
                Status::Unresolved
            } else {
                Status::Resolved
            };
            // Some verdicts rest only on a README statement.
            let weak = rng.below(4) == 0;
            let d = doc_with(source, path, rights);
            let mut v = verdict(&d, &spdx, status);
            v.weak_evidence = weak;
            let decision = policy.decide("publish", &v, &d);

            // The oracle, from the generated lists alone.
            let applies = |&&(s, src_only, _, _): &&(&str, bool, bool, Option<&str>)| {
                s == source && (!src_only || path.starts_with("src/"))
            };
            let denied_by_exception = g.publish_exceptions.iter().filter(applies).any(|x| x.2);
            let concluded = g
                .publish_exceptions
                .iter()
                .filter(applies)
                .find_map(|x| x.3);
            let effective = match status {
                Status::Resolved => Some(tree.clone()),
                Status::Unresolved => concluded.map(Tree::Leaf),
            };
            let mut class = effective
                .as_ref()
                .map_or(2, |t| t.class(&g.lists, g.unlisted));
            // Weak evidence alone is worth at most the profile's `weak-evidence` class, which
            // for a redistributable profile is never `allow`.
            let listed = class;
            if weak && status == Status::Resolved {
                class = class.max(g.publish_weak);
            }
            let rights_ok = g.publish_rights.contains(&rights);

            if decision.allowed {
                allowed += 1;
                assert!(class <= 1, "round {round}: `{spdx}` ({status:?}) has class {class} but was admitted: {decision:?}\n{}", g.text);
                assert!(
                    rights_ok
                        && !matches!(rights, RightsBasis::OwnCodebase | RightsBasis::Permissioned),
                    "round {round}: {rights:?} admitted under publish"
                );
                assert!(
                    !denied_by_exception,
                    "round {round}: a deny exception was ignored"
                );
                assert!(status == Status::Resolved || concluded.is_some());
                if weak && status == Status::Resolved {
                    assert!(
                        class == 1
                            && (g.publish_admit.contains(&1)
                                || g.publish_exceptions.iter().filter(applies).any(|x| !x.2)),
                        "round {round}: weak `{spdx}` admitted as allow: {decision:?}\n{}",
                        g.text
                    );
                }
            } else {
                refused += 1;
                // Completeness: whatever the oracle admits outright must be admitted.
                let admitted_class = g.publish_admit.contains(&class)
                    || (class == 1 && g.publish_exceptions.iter().filter(applies).any(|x| !x.2));
                assert!(
                    !(rights_ok && !denied_by_exception && class <= 1 && admitted_class),
                    "round {round}: `{spdx}` ({status:?}, class {class}) should be admitted: {decision:?}\n{}",
                    g.text
                );
            }
            // No profile admits a denied license: under `train` only a trusted rights basis
            // lifts LicenseRef-* parts, never a listed license.
            if listed == 3 && status == Status::Resolved && policy.decide("train", &v, &d).allowed {
                assert!(
                    g.train_trust.contains(&rights)
                        && listed_class_without_refs(&tree, &g.lists, g.unlisted) < 3,
                    "round {round}: train admitted denied `{spdx}` for {rights:?}\n{}",
                    g.text
                );
            }
        }
    }
    assert!(
        allowed > 500 && refused > 500,
        "the generator must exercise both outcomes: {allowed} allowed, {refused} refused"
    );
}

/// The class with every LicenseRef-* part counted as allowed (what a trusting profile sees).
fn listed_class_without_refs(t: &Tree, lists: &BTreeMap<&str, u8>, unlisted: u8) -> u8 {
    match t {
        Tree::Leaf(l) if l.starts_with("LicenseRef-") => 0,
        Tree::Leaf(l) => *lists.get(l).unwrap_or(&unlisted),
        Tree::And(a, b) => listed_class_without_refs(a, lists, unlisted)
            .max(listed_class_without_refs(b, lists, unlisted)),
        Tree::Or(a, b) => listed_class_without_refs(a, lists, unlisted)
            .min(listed_class_without_refs(b, lists, unlisted)),
    }
}
