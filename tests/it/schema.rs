//! The committed schemas match the Rust types they are generated from.

#[test]
fn committed_schemas_match_the_types() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for (name, schema) in vcurate::schema::all() {
        let want = vcurate::schema::render(&schema);
        let have = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(have == want, "schemas/{name} is out of date with the Rust types; regenerate with `cargo run -- schemas --write schemas` and commit");
    }
}
