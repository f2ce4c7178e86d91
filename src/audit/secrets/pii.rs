//! Personal data the `secrets` audit looks for besides credentials: e-mail addresses and public
//! IPv4 addresses. Both are checked beyond the pattern, because Luau code is full of look-alikes:
//! `git@github.com` remotes, `icon@2x.png` asset names, `pkg@1.2.3` versions, four-part version
//! numbers, private and loopback addresses, documentation ranges.

use std::net::Ipv4Addr;

use regex::Regex;

/// A span of personal data in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
}

pub struct Pii {
    email: Regex,
    ipv4: Regex,
}

/// Domains that are placeholders by definition (RFC 2606, RFC 6761) or never personal.
const PLACEHOLDER_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "example.edu",
    "domain.com",
    "email.com",
    "yourdomain.com",
    "company.com",
    "test.com",
];
const PLACEHOLDER_TLDS: &[&str] = &["example", "test", "invalid", "localhost", "local"];

/// Suffixes that make `name@domain.ext` a file name, not an address.
const FILE_SUFFIXES: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "tga", "ico", "lua", "luau", "json", "toml",
    "yaml", "yml", "md", "txt", "rbxm", "rbxl", "rbxmx", "rbxlx", "mp3", "ogg", "wav", "fbx",
    "obj", "mesh", "ttf", "otf", "js", "ts", "tsx", "css", "html", "zip",
];

/// Local parts that are not people: git remotes (`git@github.com:owner/repo`), service accounts.
const SERVICE_LOCAL_PARTS: &[&str] = &["git", "noreply", "no-reply", "donotreply", "do-not-reply"];

/// Public resolvers and anycast addresses that appear in networking code and name nobody.
const WELL_KNOWN_PUBLIC: &[[u8; 4]] = &[
    [1, 1, 1, 1],
    [1, 0, 0, 1],
    [8, 8, 8, 8],
    [8, 8, 4, 4],
    [9, 9, 9, 9],
    [149, 112, 112, 112],
    [208, 67, 222, 222],
    [208, 67, 220, 220],
];

impl Pii {
    pub fn new() -> Pii {
        Pii {
            email: Regex::new(
                r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?-u:\b)",
            )
            .expect("the e-mail pattern compiles"),
            ipv4: Regex::new(r"(?-u:\b)[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?-u:\b)")
                .expect("the IPv4 pattern compiles"),
        }
    }

    /// E-mail addresses that could name a person.
    pub fn emails(&self, text: &str) -> Vec<Hit> {
        if !text.as_bytes().contains(&b'@') {
            return Vec::new();
        }
        self.email
            .find_iter(text)
            .filter(|m| personal_email(m.as_str()))
            .map(|m| Hit {
                start: m.start(),
                end: m.end(),
            })
            .collect()
    }

    /// Public IPv4 addresses (not private, loopback, link-local, shared, documentation,
    /// benchmark, multicast or reserved; not a four-part version number).
    pub fn public_ipv4(&self, text: &str) -> Vec<Hit> {
        let bytes = text.as_bytes();
        self.ipv4
            .find_iter(text)
            .filter(|m| {
                // Part of a longer dotted run (`1.2.3.4.5`, `v1.2.3.4.`) is a version or an
                // OID, not an address.
                let before = m.start().checked_sub(1).map(|i| bytes[i]);
                let after = bytes.get(m.end()).copied();
                let after2 = bytes.get(m.end() + 1).copied();
                if before == Some(b'.')
                    || (after == Some(b'.') && after2.is_some_and(|c| c.is_ascii_digit()))
                {
                    return false;
                }
                // `v1.2.3.4`, `version 10.0.19041.1` ...
                let lead = bytes[m.start().saturating_sub(8)..m.start()].to_ascii_lowercase();
                let lead = String::from_utf8_lossy(&lead);
                if lead.ends_with('v') || lead.contains("version") || lead.ends_with("ver ") {
                    return false;
                }
                match m.as_str().parse::<Ipv4Addr>() {
                    Ok(ip) => public_address(ip),
                    Err(_) => false,
                }
            })
            .map(|m| Hit {
                start: m.start(),
                end: m.end(),
            })
            .collect()
    }
}

impl Default for Pii {
    fn default() -> Self {
        Pii::new()
    }
}

fn personal_email(addr: &str) -> bool {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return false;
    };
    let domain = domain.to_ascii_lowercase();
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if FILE_SUFFIXES.contains(&tld) || PLACEHOLDER_TLDS.contains(&tld) {
        return false;
    }
    if PLACEHOLDER_DOMAINS
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
    {
        return false;
    }
    !SERVICE_LOCAL_PARTS.contains(&local.to_ascii_lowercase().as_str())
}

fn public_address(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    if WELL_KNOWN_PUBLIC.contains(&o) {
        return false;
    }
    // Four single-digit parts read as a version number far more often than as an address.
    if o.iter().all(|&p| p < 10) {
        return false;
    }
    let shared = o[0] == 100 && (64..128).contains(&o[1]);
    let benchmark = o[0] == 198 && (o[1] == 18 || o[1] == 19);
    let documentation = matches!(o, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]);
    let protocol = matches!(o, [192, 0, 0, _]);
    !(o[0] == 0
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || o[0] >= 240
        || shared
        || benchmark
        || documentation
        || protocol)
}
