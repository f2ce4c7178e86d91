//! This repository is itself a workspace, and its declared sources are valid.

use std::path::Path;

use crate::util::{stderr, stdout, vcurate};

#[test]
fn the_repository_is_a_workspace_with_valid_ecosystem_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ws = vcurate::workspace::Workspace::open(root).unwrap();
    let sources = vcurate::ingest::load_sources(&ws, &[]).unwrap();
    let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
    for required in [
        "creator-docs",
        "luau",
        "rojo",
        "wally",
        "selene",
        "roblox-ts",
    ] {
        assert!(
            ids.contains(&required),
            "sources/{required}.toml is missing: {ids:?}"
        );
    }
    assert!(
        ids.len() >= 11,
        "the ecosystem sources plus several OSS libraries: {ids:?}"
    );
    for s in &sources {
        assert!(
            s.declared_location().starts_with("https://github.com/"),
            "{}: {}",
            s.id,
            s.declared_location()
        );
    }
    let docs = sources.iter().find(|s| s.id == "creator-docs").unwrap();
    assert_eq!(docs.kind, vcurate::core::SourceKind::Docs);
}

#[test]
fn init_writes_a_workspace_the_cli_finds_from_a_subfolder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = vcurate(tmp.path(), &["init", "ws"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(tmp.path().join("ws/vcurate.toml")).unwrap();
    assert!(
        text.contains("# ") && text.contains("max-file-bytes"),
        "commented defaults: {text}"
    );
    let out = vcurate(
        &tmp.path().join("ws/dataset/templates"),
        &["sources", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");
    let again = vcurate(tmp.path(), &["init", "ws"]);
    assert_eq!(again.status.code(), Some(2), "init refuses to overwrite");
}
