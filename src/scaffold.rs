//! `vcurate init`: writes a new workspace (config with commented defaults, the default license
//! policy, the built-in templates, a sources README). The workspace module only reads
//! workspaces; making one needs the policy and the templates, which live above it.

use std::path::Path;

use crate::workspace::{ConfigError, WorkspaceError, CONFIG_FILE, DEFAULT_CONFIG};

/// Writes a new workspace with commented defaults. Refuses to overwrite an existing one.
pub fn init_workspace(dir: &Path) -> Result<(), WorkspaceError> {
    if dir.join(CONFIG_FILE).exists() {
        return Err(ConfigError::new(
            &dir.join(CONFIG_FILE),
            None,
            "a workspace already exists here; nothing was changed",
        )
        .into());
    }
    for sub in [
        "sources",
        "licenses",
        "dataset/templates",
        "dataset/snapshots",
    ] {
        fs_err::create_dir_all(dir.join(sub))?;
    }
    fs_err::write(dir.join(CONFIG_FILE), DEFAULT_CONFIG)?;
    fs_err::write(
        dir.join(crate::audit::policy::POLICY_PATH),
        crate::audit::policy::DEFAULT_POLICY,
    )?;
    fs_err::write(
        dir.join(crate::core::opt_out::OPT_OUT_PATH),
        crate::core::opt_out::DEFAULT_OPT_OUT,
    )?;
    crate::render::write_builtin_templates(&dir.join("dataset").join("templates"))
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    fs_err::write(dir.join("sources").join("README.md"), SOURCES_README)?;
    fs_err::write(dir.join("dataset").join(".gitignore"), "# Bulky tables are rebuilt by vcurate; snapshot.toml files are meant to be committed.\n/store/\n/snapshots/*/*.parquet\n/snapshots/*/attributes/\n/snapshots/*/reports/\n# Where exports were written (absolute paths of this machine), for `vcurate takedown`.\n/exports/\n")?;
    fs_err::write(dir.join(".gitignore"), "/.vcurate/\n")?;
    Ok(())
}

const SOURCES_README: &str = r#"# Sources

One TOML manifest per source; the file stem is the source id. Unknown keys are errors.

```toml
kind = "git"                         # git | docs | local | jsonl
url = "https://github.com/owner/repo"
rev = "main"                         # branch, tag or commit; sources.lock pins the commit
include = ["**/*.lua", "**/*.luau", "**/*.md"]   # default
exclude = ["**/node_modules/**"]
subdir = "src"                       # optional
rights-basis = "open_source"         # open_source | own_codebase | permissioned | generated | public_domain
expected-license = "MIT"             # optional cross-check, never a substitute for evidence
```

`docs` adds `site-url`, `content-root`, `prose-license`, `code-license`, `author`.
`local` takes `path` instead of `url`/`rev`. `jsonl` takes `path`, an optional default
`license`, and a `[fields]` table mapping `source`, `license`, `rights-basis` to row fields
(dotted paths such as `meta.license`).
"#;
