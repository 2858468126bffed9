//! HTTP requests to one repository of one registry: scheme choice (HTTPS, or plain HTTP only
//! for localhost and `--insecure`/`--tls-verify=false` registries), TLS with the CAs the user
//! trusts, anonymous bearer tokens, basic and token auth with credentials, and retries with
//! backoff on 429, 5xx and transport errors (not on TLS failures: retrying cannot mend them).

use super::auth::{self, Credentials};
use super::tls::{self, TlsError, TlsOptions};
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

const ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{what}: unauthorized at {host}{detail}: log in (--creds USER:PASS, --username/--password-stdin, --authfile or ~/.docker/config.json)")]
    Unauthorized {
        what: String,
        host: String,
        detail: String,
    },
    #[error("{what}: {host} refused the credentials of {user} (HTTP {status}{detail})")]
    Refused {
        what: String,
        host: String,
        user: String,
        status: u16,
        detail: String,
    },
    #[error("{what}: {reason}")]
    Tls { what: String, reason: String },
    #[error("TLS set-up for {host}: {source}")]
    TlsSetup {
        host: String,
        #[source]
        source: TlsError,
    },
    #[error("{what}: not found at {host}{detail}")]
    NotFound {
        what: String,
        host: String,
        detail: String,
    },
    #[error("{what}: {host} answered HTTP {status}{detail} (gave up after {attempts} attempts)")]
    Status {
        what: String,
        host: String,
        status: u16,
        detail: String,
        attempts: u32,
    },
    #[error("{what}: cannot reach {host}: {reason} (gave up after {attempts} attempts)")]
    Transport {
        what: String,
        host: String,
        reason: String,
        attempts: u32,
    },
    #[error("{what}: token endpoint {realm}: {reason}")]
    Token {
        what: String,
        realm: String,
        reason: String,
    },
}

type Result<T> = std::result::Result<T, ClientError>;

/// Whether plain HTTP may be used for `host` without `--insecure`.
pub fn is_local(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    name == "localhost" || name.starts_with("127.") || name == "[::1]" || name == "::1"
}

/// The outcome of one request.
enum Reply {
    Ok(Box<ureq::Response>),
    Status(u16, Box<ureq::Response>),
    Transport(String),
    /// A TLS failure: what to tell the user, and whether the server does speak TLS.
    Tls(String, bool),
}

pub struct Client {
    agent: ureq::Agent,
    host: String,
    repository: String,
    allow_http: bool,
    scheme: Mutex<Option<&'static str>>,
    credentials: Option<Credentials>,
    authorization: Mutex<Option<String>>,
}

/// The registry's JSON error message, if it sent one: ` (CODE: message)`.
fn detail(resp: ureq::Response) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        code: Option<String>,
        message: Option<String>,
    }
    let mut body = Vec::new();
    let _ = resp.into_reader().take(64 * 1024).read_to_end(&mut body);
    match serde_json::from_slice::<Errors>(&body) {
        Ok(e) if !e.errors.is_empty() => {
            let parts: Vec<String> = e
                .errors
                .iter()
                .map(|x| {
                    format!(
                        "{}: {}",
                        x.code.as_deref().unwrap_or("?"),
                        x.message.as_deref().unwrap_or("")
                    )
                })
                .collect();
            format!(" ({})", parts.join("; "))
        }
        _ => String::new(),
    }
}

/// The registry's error message as `: CODE: message`, or nothing.
fn bare_detail(resp: ureq::Response) -> String {
    let d = detail(resp);
    d.strip_prefix(" (")
        .and_then(|d| d.strip_suffix(')'))
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

fn backoff(attempt: u32, retry_after: Option<&str>) -> Duration {
    if let Some(secs) = retry_after.and_then(|s| s.trim().parse::<u64>().ok()) {
        return Duration::from_secs(secs.min(30));
    }
    Duration::from_millis((250u64 << attempt).min(8000))
}

fn encode_query(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    pub fn new(
        host: &str,
        repository: &str,
        insecure: bool,
        tls_options: &TlsOptions,
        credentials: Option<Credentials>,
    ) -> Result<Client> {
        let tls_config =
            tls::client_config(host, tls_options).map_err(|source| ClientError::TlsSetup {
                host: host.to_string(),
                source,
            })?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls_config)
            .timeout_connect(Duration::from_secs(15))
            .timeout_read(Duration::from_secs(60))
            .redirect_auth_headers(ureq::RedirectAuthHeaders::SameHost)
            .user_agent(concat!("rrun-image/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent,
            host: host.to_string(),
            repository: repository.to_string(),
            allow_http: insecure || tls_options.no_verify || is_local(host),
            scheme: Mutex::new(None),
            credentials,
            authorization: Mutex::new(None),
        })
    }

    /// One request, no retries.
    fn send(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        if let Some(a) = self.authorization.lock().expect("auth lock").as_deref() {
            req = req.set("Authorization", a);
        }
        match req.call() {
            Ok(r) => Reply::Ok(Box::new(r)),
            Err(ureq::Error::Status(code, r)) => Reply::Status(code, Box::new(r)),
            Err(ureq::Error::Transport(t)) => match tls::tls_failure(&t) {
                Some(e) => Reply::Tls(tls::explain(&self.host, &e), tls::server_speaks_tls(&e)),
                None => Reply::Transport(t.to_string()),
            },
        }
    }

    /// Send with the registry's scheme: HTTPS first; HTTP when allowed and HTTPS fails at the
    /// transport level. The scheme that answered is remembered.
    fn send_any_scheme(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let known = *self.scheme.lock().expect("scheme lock");
        if let Some(s) = known {
            return self.send(&format!("{s}://{}{path}", self.host), headers);
        }
        let mut scheme = "https";
        let mut reply = self.send(&format!("https://{}{path}", self.host), headers);
        // Plain HTTP when allowed and HTTPS failed below HTTP, unless the server does speak TLS
        // (its certificate was refused): HTTP would only hide that.
        let fall_back = match &reply {
            Reply::Transport(_) | Reply::Tls(_, false) => self.allow_http,
            _ => false,
        };
        if fall_back {
            scheme = "http";
            let https = reply;
            reply = self.send(&format!("http://{}{path}", self.host), headers);
            // Both failed: the HTTPS failure is the one to report when it was about TLS.
            if matches!(reply, Reply::Transport(_)) && matches!(https, Reply::Tls(..)) {
                reply = https;
            }
        }
        if !matches!(reply, Reply::Transport(_) | Reply::Tls(..)) {
            *self.scheme.lock().expect("scheme lock") = Some(scheme);
        }
        reply
    }

    /// GET `/v2/<repository>/<path>`: authenticates on 401 (once), retries 429/5xx and
    /// transport errors with backoff, and maps the other failures to clear errors.
    pub fn get(&self, path: &str, headers: &[(&str, &str)], what: &str) -> Result<ureq::Response> {
        let full = format!("/v2/{}/{path}", self.repository);
        let mut authenticated = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (status, resp) = match self.send_any_scheme(&full, headers) {
                Reply::Ok(resp) => return Ok(*resp),
                Reply::Status(status, resp) => (status, *resp),
                Reply::Tls(reason, _) => {
                    return Err(ClientError::Tls {
                        what: what.to_string(),
                        reason,
                    })
                }
                Reply::Transport(reason) => {
                    if attempt >= ATTEMPTS {
                        return Err(ClientError::Transport {
                            what: what.to_string(),
                            host: self.host.clone(),
                            reason,
                            attempts: attempt,
                        });
                    }
                    std::thread::sleep(backoff(attempt, None));
                    continue;
                }
            };
            match status {
                401 if !authenticated => {
                    authenticated = true;
                    attempt -= 1;
                    let challenge = resp.header("WWW-Authenticate").map(str::to_string);
                    self.authenticate(challenge.as_deref(), what)?;
                }
                401 | 403 if authenticated && self.credentials.is_some() => {
                    return Err(ClientError::Refused {
                        what: what.to_string(),
                        host: self.host.clone(),
                        user: self
                            .credentials
                            .as_ref()
                            .map(|c| c.username.clone())
                            .unwrap_or_default(),
                        status,
                        detail: bare_detail(resp),
                    })
                }
                401 | 403 => {
                    return Err(ClientError::Unauthorized {
                        what: what.to_string(),
                        host: self.host.clone(),
                        detail: detail(resp),
                    })
                }
                404 => {
                    return Err(ClientError::NotFound {
                        what: what.to_string(),
                        host: self.host.clone(),
                        detail: detail(resp),
                    })
                }
                429 | 500..=599 if attempt < ATTEMPTS => {
                    let wait = backoff(attempt, resp.header("Retry-After"));
                    std::thread::sleep(wait);
                }
                _ => {
                    return Err(ClientError::Status {
                        what: what.to_string(),
                        host: self.host.clone(),
                        status,
                        detail: detail(resp),
                        attempts: attempt,
                    })
                }
            }
        }
    }

    /// Answer a 401 challenge: basic credentials, or a bearer token from the realm (anonymous
    /// when there are no credentials, as Docker Hub allows for public images).
    fn authenticate(&self, challenge: Option<&str>, what: &str) -> Result<()> {
        let unauthorized = |detail: &str| ClientError::Unauthorized {
            what: what.to_string(),
            host: self.host.clone(),
            detail: detail.to_string(),
        };
        let challenge = challenge
            .and_then(auth::parse_challenge)
            .ok_or_else(|| unauthorized(" (no WWW-Authenticate challenge)"))?;
        let value = match challenge.scheme.as_str() {
            "basic" => self
                .credentials
                .as_ref()
                .ok_or_else(|| unauthorized(" (basic auth required)"))?
                .basic(),
            "bearer" => format!("Bearer {}", self.token(&challenge, what)?),
            other => return Err(unauthorized(&format!(" (unsupported auth scheme {other})"))),
        };
        *self.authorization.lock().expect("auth lock") = Some(value);
        Ok(())
    }

    fn token(&self, challenge: &auth::Challenge, what: &str) -> Result<String> {
        let realm = challenge.params.get("realm").cloned().unwrap_or_default();
        let err = |reason: String| ClientError::Token {
            what: what.to_string(),
            realm: realm.clone(),
            reason,
        };
        if !(realm.starts_with("https://") || (self.allow_http && realm.starts_with("http://"))) {
            return Err(err("the realm must be an https:// URL".to_string()));
        }
        let scope = challenge
            .params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:pull", self.repository));
        let mut url = format!("{realm}?scope={}", encode_query(&scope));
        if let Some(service) = challenge.params.get("service") {
            url.push_str(&format!("&service={}", encode_query(service)));
        }
        let mut req = self.agent.get(&url);
        if let Some(c) = &self.credentials {
            req = req.set("Authorization", &c.basic());
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(status @ (401 | 403), r)) => {
                return Err(match &self.credentials {
                    Some(c) => ClientError::Refused {
                        what: what.to_string(),
                        host: format!("the token endpoint {realm}"),
                        user: c.username.clone(),
                        status,
                        detail: bare_detail(r),
                    },
                    None => ClientError::Unauthorized {
                        what: what.to_string(),
                        host: self.host.clone(),
                        detail: detail(r),
                    },
                })
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(match tls::tls_failure(&t) {
                    Some(e) => ClientError::Tls {
                        what: what.to_string(),
                        reason: format!("token endpoint {realm}: {}", tls::explain(&realm, &e)),
                    },
                    None => err(t.to_string()),
                })
            }
            Err(e) => return Err(err(e.to_string())),
        };
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let mut body = Vec::new();
        resp.into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| err(e.to_string()))?;
        let t: Token = serde_json::from_slice(&body).map_err(|e| err(e.to_string()))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| err("no token in the answer".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts() {
        assert!(is_local("localhost:5000"));
        assert!(is_local("127.0.0.1:41000"));
        assert!(is_local("[::1]:5000"));
        assert!(!is_local("ghcr.io"));
        assert!(!is_local("registry.example:5000"));
        assert_eq!(
            encode_query("repository:a/b:pull"),
            "repository%3Aa%2Fb%3Apull"
        );
    }
}
