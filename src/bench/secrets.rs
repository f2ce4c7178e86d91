//! `vcurate bench secrets`: the `secrets` audit's throughput and its share of a whole audit run,
//! on a generated corpus of Roblox-style Luau modules full of look-alikes (hashes, base64 assets,
//! GUIDs, asset ids, test vectors, versions, private addresses) with planted fake credentials in
//! 2% of them; and, with `--corpus DIR`, how many documents of a real folder of Luau files the
//! scanner flags (the false-positive rate on ordinary code). A benchmark, not a test: nothing
//! here asserts a time. The generators are deterministic in their seed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::audit::secrets::{fingerprint, Kind, Scanner};
use crate::core::hash::SplitMix64;
use crate::ingest::git::{commit_files, TreeContent};
use crate::workspace::Workspace;

/// `n` characters of `set`, seeded: random enough to pass entropy checks, the same every run.
pub fn rand(set: &str, n: usize, seed: u64) -> String {
    let set: Vec<char> = set.chars().collect();
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|_| set[(r.next_u64() % set.len() as u64) as usize])
        .collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A line of Luau holding a format-valid fake credential of kind `i % 7` (the seven of the
/// issue's report: a `.ROBLOSECURITY` cookie, an `x-api-key` header, a Discord webhook, an AWS
/// key, a GitHub token, a private key block, an e-mail address), and the rule that must find it.
pub fn fake_credential(i: usize, seed: u64) -> (&'static str, String) {
    let s = seed.wrapping_add(i as u64 * 7919);
    match i % 7 {
        0 => (
            "roblox-security-cookie",
            format!(
                "local COOKIE = \"{}{}FAKE{}\"",
                "_|WARNING:-DO-NOT-SHARE-THIS.--Sharing-this-will-allow-someone-to-log-in-as-you-and-",
                "to-steal-your-ROBUX-and-items.|_",
                rand("0123456789ABCDEF", 300, s)
            ),
        ),
        1 => (
            "roblox-api-key-header",
            format!(
                "local HEADERS = {{ [\"x-api-key\"] = \"FAKE{}\" }}",
                rand(ALNUM, 44, s)
            ),
        ),
        2 => (
            "discord-webhook-url",
            format!(
                "local WEBHOOK = \"https://discord.com/api/webhooks/1{}/{}\"",
                rand("0123456789", 17, s),
                rand(&format!("{ALNUM}-_"), 68, s + 1)
            ),
        ),
        3 => (
            "aws-access-token",
            format!(
                "local AWS_KEY = \"{}FAKE{}\"",
                "AKIA",
                rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 12, s)
            ),
        ),
        4 => (
            "github-pat",
            format!("local TOKEN = \"{}_FAKE{}\"", "ghp", rand(ALNUM, 32, s)),
        ),
        5 => (
            "private-key",
            format!(
                "local PEM = [[\n-----BEGIN {k} PRIVATE KEY-----\n{}\n{}\n-----END {k} PRIVATE KEY-----\n]]",
                rand(ALNUM, 64, s),
                rand(ALNUM, 64, s + 1),
                k = "RSA"
            ),
        ),
        _ => (
            crate::audit::secrets::EMAIL_RULE,
            format!("-- Contact: dev{i}.fake@mailbox.fake-domain.org"),
        ),
    }
}

/// A corpus of ordinary Roblox/Luau modules full of look-alikes: each kind the issue names
/// (hashes, base64 assets, UUIDs, `rbxassetid://` numbers, long test vectors) plus versions,
/// private addresses, DataStore keys, key codes and attribute names.
pub fn lookalike_corpus(n: usize, seed: u64) -> Vec<(String, String)> {
    let mut r = SplitMix64::new(seed);
    let hex = |r: &mut SplitMix64, n: usize| rand("0123456789abcdef", n, r.next_u64());
    let b64 = |r: &mut SplitMix64, n: usize| {
        rand(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            n,
            r.next_u64(),
        )
    };
    let guid = |r: &mut SplitMix64| {
        format!(
            "{}-{}-{}-{}-{}",
            hex(r, 8),
            hex(r, 4),
            hex(r, 4),
            hex(r, 4),
            hex(r, 12)
        )
    };
    let mut out = Vec::new();
    for i in 0..n {
        let asset = 1_000_000_000 + r.below(9_000_000_000);
        let mut s = format!(
            "--!strict\n-- {name} module\nlocal Players = game:GetService(\"Players\")\nlocal HttpService = game:GetService(\"HttpService\")\nlocal DataStoreService = game:GetService(\"DataStoreService\")\n\nlocal {name} = {{}}\n",
            name = format!("Module{i}")
        );
        let parts: [String; 16] = [
            format!("local ICON = \"rbxassetid://{asset}\"\nlocal SOUND_ID = \"rbxassetid://{}\"\n", asset + 17),
            format!("local sessionKey = \"{}\"\nlocal requestId = HttpService:GenerateGUID(false)\n", guid(&mut r)),
            format!("-- sha256 of the map file\nlocal MAP_HASH = \"{}\"\nlocal EXPECTED_MD5 = \"{}\"\n", hex(&mut r, 64), hex(&mut r, 32)),
            format!("local ICON_PNG = \"iVBORw0KGgoAAAANSUhEUgAA{}\"\n", b64(&mut r, 300)),
            format!("local store = DataStoreService:GetDataStore(\"PlayerData_v{}\")\nlocal DATA_KEY = \"Player_\" .. player.UserId\n", r.below(9)),
            format!("local TEST_KEY = \"000102030405060708090a0b0c0d0e0f\"\nlocal TEST_VECTOR = \"{}\"\n", hex(&mut r, 128)),
            format!("local VERSION = \"{}.{}.{}\"\nlocal BUILD = \"0.{}.0.{}\"\n", r.below(5), r.below(20), r.below(50), 500 + r.below(200), 5_000_000 + r.below(999_999)),
            "local DEV_SERVER = \"http://127.0.0.1:34872\"\nlocal LAN = \"192.168.0.42\"\n".to_string(),
            "UserInputService.InputBegan:Connect(function(input, processed)\n\tif input.KeyCode == Enum.KeyCode.E then\n\t\tinteract()\n\tend\nend)\n".to_string(),
            format!("local keyframe = animator:LoadAnimation(anim)\nlocal keyName = \"Key{}\"\n", r.below(100)),
            format!("local tokenCount = 0\nlocal authorName = \"builder{}\"\nlocal accessLevel = 3\n", r.below(1000)),
            format!("part:SetAttribute(\"SecretDoor\", true)\nlocal secretRoom = workspace.SecretRoom{}\n", r.below(10)),
            format!("local placeId = {}\nlocal universeId = {}\nlocal groupId = {}\n", 100_000_000 + r.below(9_000_000_000), 1_000_000 + r.below(9_000_000), r.below(40_000_000)),
            format!("local COLOR = Color3.fromHex(\"#{}\")\nlocal tween = TweenInfo.new(0.{}, Enum.EasingStyle.Quad)\n", hex(&mut r, 6), r.below(9)),
            format!("-- Wally: sleitnick/knit@1.{}.{}\n-- evaera/promise@4.0.0\nlocal Knit = require(ReplicatedStorage.Packages.Knit)\n", r.below(8), r.below(9)),
            format!("local apiKey = HttpService:GetSecret(\"open_cloud\")\nlocal API_URL = \"https://apis.roblox.com/datastores/v1/universes/{}/standard-datastores\"\n", r.below(9_000_000)),
        ];
        for (k, p) in parts.iter().enumerate() {
            if (i + k) % 3 != 0 {
                s.push_str(p);
                s.push('\n');
            }
        }
        s.push_str(&format!("return Module{i}\n"));
        out.push((format!("src/Shared/Module{i}.luau"), s));
    }
    out
}

/// Figures of `vcurate bench secrets`.
#[derive(Debug, Clone, Serialize)]
pub struct SecretsBenchFigures {
    pub documents: usize,
    pub lines_per_document: usize,
    pub bytes: u64,
    pub planted: usize,
    pub threads: usize,
    /// `debug` when debug assertions are on, else `optimized` (the figures in `benches/results/`
    /// were taken with vcurate at opt-level 3 and its dependencies at the dev profile's 1).
    pub profile: &'static str,
    /// Compiling the rules once (gitleaks' and the Roblox rules, their allowlists and the
    /// keyword automaton); the secrets audit's time includes it.
    pub rules_compile_seconds: f64,
    /// Seconds of each audit of one full `vcurate audit` run over the corpus (tables included).
    pub audit_seconds: BTreeMap<String, f64>,
    pub audit_total_seconds: f64,
    pub secrets_seconds: f64,
    pub secrets_documents_per_second: f64,
    pub secrets_mb_per_second: f64,
    /// The secrets audit's time over the whole audit run's.
    pub secrets_share_of_audit_run: f64,
    /// The secrets audit's time over all the other audits' together (the bound: it must
    /// not double the run, i.e. stay well under 1.0).
    pub secrets_over_other_audits: f64,
    /// The scanner alone over the texts (no tables), all threads.
    pub scan_only_seconds: f64,
    pub scan_only_documents_per_second: f64,
    /// Planted documents the audit dropped or redacted for the planted rule.
    pub planted_found: usize,
    /// Documents without a planted credential that the audit flagged.
    pub unplanted_flagged: usize,
}

/// Generates the corpus in `dir` (a git repository), ingests it, runs every audit once, and
/// measures.
pub fn run(dir: &Path, documents: usize, lines: usize) -> anyhow::Result<SecretsBenchFigures> {
    let mut rng = crate::bench::Rng::new(42);
    let looks = lookalike_corpus(documents, 11);
    let mut files = Vec::new();
    let mut planted: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut bytes = 0u64;
    for (i, (_, look)) in looks.iter().enumerate() {
        let look = look
            .trim_end_matches(&format!("return Module{i}\n"))
            .to_string();
        let mut text = look;
        let path = if i % 50 == 25 {
            let (rule, line) = fake_credential(i / 50, 5);
            text.push_str(&line);
            text.push('\n');
            let p = format!("src/planted/Planted{i}.luau");
            planted.insert(p.clone(), rule);
            p
        } else {
            format!("src/dir{}/Module{i}.luau", i % 40)
        };
        text.push_str(&crate::bench::ingest::luau_module(&mut rng, i, lines));
        bytes += text.len() as u64;
        files.push((path, TreeContent::File(text.into_bytes())));
    }
    // A license, so the license audit keeps the corpus and every later audit sees all of it.
    files.push((
        "LICENSE".to_string(),
        TreeContent::File(
            include_str!("../sample/files/luau-utils/LICENSE")
                .as_bytes()
                .to_vec(),
        ),
    ));
    let repo = git2::Repository::init_bare(dir.join("corpus/code"))?;
    commit_files(&repo, "main", "bench", 1_700_000_000, &files)?;
    let ws_dir = dir.join("ws");
    crate::scaffold::init_workspace(&ws_dir)?;
    fs_err::write(
        ws_dir.join("sources/code.toml"),
        format!(
            "kind = \"git\"\nurl = \"{}\"\nrev = \"main\"\nrights-basis = \"open_source\"\n",
            dir.join("corpus/code").display()
        ),
    )?;
    let ws = Workspace::open(&ws_dir)?;
    crate::ingest::run(&ws, &Default::default(), &|_| {})?;

    let starts: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
    let began = Instant::now();
    crate::audit::run::run(&ws, &[], &|name| {
        starts
            .lock()
            .expect("not poisoned")
            .push((name.to_string(), Instant::now()))
    })?;
    let ended = Instant::now();
    let starts = starts.into_inner().expect("not poisoned");
    let mut audit_seconds = BTreeMap::new();
    for (k, (name, t)) in starts.iter().enumerate() {
        let next = starts.get(k + 1).map_or(ended, |(_, n)| *n);
        audit_seconds.insert(name.clone(), (next - *t).as_secs_f64());
    }
    let total = (ended - began).as_secs_f64();
    let secrets_seconds = audit_seconds.get("secrets").copied().unwrap_or(0.0);

    let t = Instant::now();
    Scanner::new(&[
        ("gitleaks.toml", crate::audit::secrets::GITLEAKS_RULES),
        ("roblox.toml", crate::audit::secrets::ROBLOX_RULES),
    ])?;
    let rules_compile_seconds = t.elapsed().as_secs_f64();

    let docs = crate::store::all_documents(&ws.store_dir())?;
    let t = Instant::now();
    docs.par_iter().for_each(|d| {
        Scanner::builtin().scan(&d.text, &d.provenance.path);
    });
    let scan_only_seconds = t.elapsed().as_secs_f64();

    let flagged =
        crate::audit::run::excluded_ids(&crate::audit::run::audit_dir(&ws), &["secrets"])?;
    let attrs = crate::store::read_parquet(
        &crate::audit::run::audit_dir(&ws).join("attributes/secrets.parquet"),
    )?;
    let redacted: Vec<bool> = attrs
        .column("redacted")?
        .bool()?
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect();
    let ids: Vec<String> = attrs
        .column("id")?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let redacted_ids: std::collections::BTreeSet<&str> = ids
        .iter()
        .zip(&redacted)
        .filter(|(_, r)| **r)
        .map(|(i, _)| i.as_str())
        .collect();
    let mut planted_found = 0;
    let mut unplanted_flagged = 0;
    for d in &docs {
        let hit = flagged.contains(&d.id) || redacted_ids.contains(d.id.as_str());
        match (planted.contains_key(&d.provenance.path), hit) {
            (true, true) => planted_found += 1,
            (false, true) => unplanted_flagged += 1,
            _ => {}
        }
    }
    let n = docs.len();
    Ok(SecretsBenchFigures {
        documents: n,
        lines_per_document: lines,
        bytes,
        planted: planted.len(),
        threads: rayon::current_num_threads(),
        profile: if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimized"
        },
        rules_compile_seconds,
        audit_total_seconds: total,
        secrets_seconds,
        secrets_documents_per_second: n as f64 / secrets_seconds,
        secrets_mb_per_second: bytes as f64 / 1e6 / secrets_seconds,
        secrets_share_of_audit_run: secrets_seconds / total,
        secrets_over_other_audits: secrets_seconds / (total - secrets_seconds),
        scan_only_seconds,
        scan_only_documents_per_second: n as f64 / scan_only_seconds,
        audit_seconds,
        planted_found,
        unplanted_flagged,
    })
}

/// What the scanner flags in a real folder of Luau files (`vcurate bench secrets --corpus DIR`).
#[derive(Debug, Clone, Serialize)]
pub struct CorpusFigures {
    pub corpus: String,
    pub documents: usize,
    pub bytes: u64,
    /// Documents with at least one credential finding (what the default policy drops).
    pub documents_with_secrets: usize,
    pub secret_share: f64,
    /// Documents with an e-mail or public IP address (what the default policy redacts).
    pub documents_with_emails: usize,
    pub documents_with_ip_addresses: usize,
    pub findings_by_rule: BTreeMap<String, usize>,
    pub seconds: f64,
    pub documents_per_second: f64,
    /// Every credential finding, without its value: path, line, rule, prefix, hash.
    pub secret_findings: Vec<String>,
}

/// Scans every `.lua`/`.luau` file under `dir`.
pub fn scan_corpus(dir: &Path) -> anyhow::Result<CorpusFigures> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d)?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "lua" || x == "luau") {
                paths.push(p);
            }
        }
    }
    paths.sort();
    let texts: Vec<(String, String)> = paths
        .iter()
        .filter_map(|p| {
            let text = fs_err::read_to_string(p).ok()?;
            let rel = crate::ingest::rel_path(dir, p);
            Some((rel, text.replace("\r\n", "\n")))
        })
        .collect();
    let t = Instant::now();
    let found: Vec<Vec<crate::audit::secrets::Finding>> = texts
        .par_iter()
        .map(|(p, text)| Scanner::builtin().scan(text, p))
        .collect();
    let seconds = t.elapsed().as_secs_f64();
    let mut by_rule = BTreeMap::new();
    let mut secret_findings = Vec::new();
    let has = |fs: &[crate::audit::secrets::Finding], k: Kind| fs.iter().any(|f| f.kind == k);
    for ((path, text), fs) in texts.iter().zip(&found) {
        for f in fs {
            *by_rule.entry(f.rule.clone()).or_insert(0) += 1;
            if f.kind == Kind::Secret {
                let (prefix, hash) = fingerprint(&text[f.start..f.end]);
                secret_findings.push(format!("{path}:{} {} {prefix}… {hash}", f.line, f.rule));
            }
        }
    }
    let n = texts.len();
    let with = found.iter().filter(|fs| has(fs, Kind::Secret)).count();
    Ok(CorpusFigures {
        corpus: dir.display().to_string(),
        documents: n,
        bytes: texts.iter().map(|(_, t)| t.len() as u64).sum(),
        documents_with_secrets: with,
        secret_share: with as f64 / n.max(1) as f64,
        documents_with_emails: found.iter().filter(|fs| has(fs, Kind::Email)).count(),
        documents_with_ip_addresses: found.iter().filter(|fs| has(fs, Kind::IpAddress)).count(),
        findings_by_rule: by_rule,
        seconds,
        documents_per_second: n as f64 / seconds.max(1e-9),
        secret_findings,
    })
}
