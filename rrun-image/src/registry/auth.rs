//! Registry credentials (`--creds`, `--username/--password-stdin`, `--authfile`, or
//! ~/.docker/config.json: a credential
//! helper named by `credHelpers` for the host or by `credsStore`, else `auths`) and the
//! `WWW-Authenticate` challenges a registry answers 401 with.

use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {reason}")]
    DockerConfig { path: PathBuf, reason: String },
    #[error("reading the password from stdin: {0}")]
    Stdin(std::io::Error),
    #[error("--creds wants USER:PASSWORD (or USER, the password then read from stdin)")]
    Creds,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// `--username U --password-stdin`: the first line of stdin is the password.
    pub fn from_stdin(username: String) -> Result<Credentials, AuthError> {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(AuthError::Stdin)?;
        Ok(Credentials {
            username,
            password: line.trim_end_matches(['\r', '\n']).to_string(),
        })
    }
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The keys `docker login` may have stored `host`'s credentials under.
fn keys_for(host: &str) -> Vec<String> {
    let mut keys = vec![
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
        format!("https://{host}/v2/"),
    ];
    if host == super::super::reference::DOCKER_HUB {
        keys.insert(0, "https://index.docker.io/v1/".to_string());
        keys.push("index.docker.io".to_string());
        keys.push("registry-1.docker.io".to_string());
    }
    keys
}

/// Credentials for `host` from the Docker config file, as docker finds them: the helper
/// `credHelpers` names for the host, else the `credsStore` helper, else `auths`. A helper is
/// `docker-credential-<name>` on PATH, run as `get` with the server's name on stdin. A missing
/// file means no credentials.
pub fn from_docker_config(host: &str) -> Result<Option<Credentials>, AuthError> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    from_file(path, host, false)
}

/// Credentials for `host` from `--authfile FILE` (skopeo's and podman's auth.json, the same
/// format as docker's config.json); the file must exist.
pub fn from_auth_file(
    path: &std::path::Path,
    host: &str,
) -> Result<Option<Credentials>, AuthError> {
    from_file(path.to_path_buf(), host, true)
}

/// `USER:PASSWORD` (`--creds`); without `:PASSWORD`, the password is the first line of stdin.
pub fn from_creds(creds: &str) -> Result<Credentials, AuthError> {
    match creds.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }),
        None if !creds.is_empty() => Credentials::from_stdin(creds.to_string()),
        _ => Err(AuthError::Creds),
    }
}

fn from_file(
    path: PathBuf,
    host: &str,
    must_exist: bool,
) -> Result<Option<Credentials>, AuthError> {
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => return Ok(None),
        Err(e) => {
            return Err(AuthError::DockerConfig {
                path,
                reason: e.to_string(),
            })
        }
    };
    lookup(&data, host, &run_helper).map_err(|reason| AuthError::DockerConfig { path, reason })
}

/// `docker-credential-<helper> get` for `server`: None when the helper has no credentials
/// for it (docker's "credentials not found" exit).
fn run_helper(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| format!("credential helper {program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("credential helper {program}: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if said.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "credential helper {program} get {server}: {}",
            said.trim()
        ));
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Reply {
        username: String,
        secret: String,
    }
    let r: Reply = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("credential helper {program}: its answer is not JSON: {e}"))?;
    if r.username == "<token>" {
        return Err(format!(
            "credential helper {program} gave an identity token for {server}, which rrun-image \
             does not use yet: log in with a password (--username/--password-stdin)"
        ));
    }
    Ok(Some(Credentials {
        username: r.username,
        password: r.secret,
    }))
}

type Helper<'a> = &'a dyn Fn(&str, &str) -> Result<Option<Credentials>, String>;

fn lookup(data: &[u8], host: &str, helper: Helper<'_>) -> Result<Option<Credentials>, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        #[serde(default)]
        auths: BTreeMap<String, Entry>,
        #[serde(default)]
        cred_helpers: BTreeMap<String, String>,
        creds_store: Option<String>,
    }
    let config: Config = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let keys = keys_for(host);
    if let Some((key, name)) = keys
        .iter()
        .find_map(|k| config.cred_helpers.get(k).map(|n| (k, n)))
    {
        return helper(name, key);
    }
    if let Some(store) = config.creds_store.as_deref().filter(|s| !s.is_empty()) {
        // The store answers for the name docker logged in with: try each form.
        for key in &keys {
            if let Some(c) = helper(store, key)? {
                return Ok(Some(c));
            }
        }
    }
    let Some(entry) = keys_for(host).iter().find_map(|k| config.auths.get(k)) else {
        return Ok(None);
    };
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }));
    }
    let Some(auth) = &entry.auth else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .map_err(|e| format!("auths[{host}].auth: {e}"))?;
    let raw = String::from_utf8(raw).map_err(|_| format!("auths[{host}].auth is not UTF-8"))?;
    let (u, p) = raw
        .split_once(':')
        .ok_or_else(|| format!("auths[{host}].auth is not user:password"))?;
    Ok(Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    }))
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parse `Bearer realm="...",service="...",scope="repository:a:pull,push"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let b = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.params["realm"], "Registry Realm");
    }

    #[test]
    fn docker_config_auths() {
        let cfg = br#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYTpzcw=="},
            "https://index.docker.io/v1/":{"username":"hub","password":"pw"}}}"#;
        let none: Helper<'_> = &|_, _| panic!("no helper is configured");
        let c = lookup(cfg, "127.0.0.1:5000", none).unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("user", "pa:ss")
        );
        assert_eq!(
            lookup(cfg, "docker.io", none).unwrap().unwrap().username,
            "hub"
        );
        assert!(lookup(cfg, "ghcr.io", none).unwrap().is_none());
        assert_eq!(c.basic(), "Basic dXNlcjpwYTpzcw==");
    }

    #[test]
    fn credential_helpers_come_first() {
        let cfg = br#"{"auths":{"a.io":{"auth":"dXNlcjpwYTpzcw=="}},
            "credHelpers":{"a.io":"ecr"},"credsStore":"desktop"}"#;
        let asked = std::cell::RefCell::new(Vec::new());
        let helper = |name: &str, server: &str| {
            asked.borrow_mut().push(format!("{name} {server}"));
            Ok(match (name, server) {
                ("ecr", "a.io") => Some(Credentials {
                    username: "AWS".into(),
                    password: "tok".into(),
                }),
                ("desktop", "https://b.io") => Some(Credentials {
                    username: "b".into(),
                    password: "p".into(),
                }),
                _ => None,
            })
        };
        assert_eq!(
            lookup(cfg, "a.io", &helper).unwrap().unwrap().username,
            "AWS"
        );
        // The store is asked under each name docker may have logged in with.
        assert_eq!(lookup(cfg, "b.io", &helper).unwrap().unwrap().username, "b");
        assert_eq!(
            asked.borrow()[1..],
            ["desktop b.io", "desktop https://b.io"]
        );
        assert!(lookup(cfg, "c.io", &helper).unwrap().is_none());
    }
}
