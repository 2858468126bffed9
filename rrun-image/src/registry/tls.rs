//! TLS for registries as users have them: the client configuration ureq's agent uses, with the
//! CAs a user trusts besides the public roots (`--cert-dir DIR`, docker's and podman's per-host
//! `certs.d/HOST/`, `SSL_CERT_FILE`/`SSL_CERT_DIR`, the system bundle), a client certificate
//! from the same directory, or no verification at all (`--tls-verify=false`); and the reading of
//! a TLS failure as the certificate problem it is.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The system CA bundles tried when `SSL_CERT_FILE` is not set (Debian/Ubuntu, Fedora/RHEL).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
/// Where docker and podman look for a registry's own certificates: `<dir>/<host[:port]>/`.
const PER_HOST_DIRS: &[&str] = &["/etc/containers/certs.d", "/etc/docker/certs.d"];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {reason}", .path.display())]
    File { path: PathBuf, reason: String },
    #[error("TLS client configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// How to check a registry's certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// `--tls-verify=false`: accept any certificate (and allow plain HTTP).
    pub no_verify: bool,
    /// `--cert-dir DIR`: `*.crt` are CAs to trust, `NAME.cert` + `NAME.key` a client
    /// certificate. Without it, `/etc/containers/certs.d/HOST/` and `/etc/docker/certs.d/HOST/`.
    pub cert_dir: Option<PathBuf>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The certificates of a PEM file; a file holding none is an error (it was named to be used).
fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let data = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::File {
            path: path.to_path_buf(),
            reason: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::File {
            path: path.to_path_buf(),
            reason: "holds no PEM certificate".to_string(),
        });
    }
    Ok(certs)
}

/// The files of `dir` whose names end in `suffix`, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, TlsError> {
    let entries = std::fs::read_dir(dir).map_err(|e| TlsError::File {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    Ok(out)
}

/// The directory holding `host`'s certificates: `--cert-dir`, else a per-host directory that
/// exists.
fn cert_dir_for(host: &str, opts: &TlsOptions) -> Option<PathBuf> {
    if let Some(d) = &opts.cert_dir {
        return Some(d.clone());
    }
    PER_HOST_DIRS
        .iter()
        .map(|d| Path::new(d).join(host))
        .find(|d| d.is_dir())
}

/// The roots: the public ones, the system bundle (or `SSL_CERT_FILE`), `SSL_CERT_DIR`, and
/// the `*.crt` of the host's certificate directory.
fn roots(cert_dir: Option<&Path>) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    match std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        Some(file) => {
            roots.add_parsable_certificates(pem_certs(Path::new(&file))?);
        }
        None => {
            if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
                // The system's own bundle: what it cannot parse is skipped, as ureq would.
                if let Ok(data) = std::fs::read(bundle) {
                    roots.add_parsable_certificates(
                        CertificateDer::pem_slice_iter(&data).filter_map(|c| c.ok()),
                    );
                }
            }
        }
    }
    if let Some(dir) = std::env::var_os("SSL_CERT_DIR").filter(|v| !v.is_empty()) {
        for dir in std::env::split_paths(&dir) {
            for suffix in [".pem", ".crt"] {
                for f in files_ending(&dir, suffix).unwrap_or_default() {
                    if let Ok(certs) = pem_certs(&f) {
                        roots.add_parsable_certificates(certs);
                    }
                }
            }
        }
    }
    if let Some(dir) = cert_dir {
        for f in files_ending(dir, ".crt")? {
            for cert in pem_certs(&f)? {
                roots.add(cert).map_err(|e| TlsError::File {
                    path: f.clone(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
        }
    }
    Ok(roots)
}

/// A client certificate of the certificate directory: `NAME.cert` with its `NAME.key`.
fn client_cert(
    dir: &Path,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, TlsError> {
    let Some(cert) = files_ending(dir, ".cert")?.into_iter().next() else {
        return Ok(None);
    };
    let key_path = cert.with_extension("key");
    let certs = pem_certs(&cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read(&key_path)?).map_err(|e| TlsError::File {
        path: key_path.clone(),
        reason: format!("not a PEM private key (the key of {}): {e}", cert.display()),
    })?;
    Ok(Some((certs, key)))
}

/// Accepts any server certificate (`--tls-verify=false`); the handshake's signatures are still
/// checked, so the connection is at least to the holder of the certificate it shows.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS configuration for requests to `host` (`host[:port]`, as in a reference).
pub fn client_config(host: &str, opts: &TlsOptions) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?;
    let dir = cert_dir_for(host, opts);
    let builder = if opts.no_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        builder.with_root_certificates(roots(dir.as_deref())?)
    };
    let config = match dir.as_deref().map(client_cert).transpose()?.flatten() {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// What a TLS failure says, when a transport error is one: the rustls error under ureq's.
pub fn tls_failure(e: &ureq::Transport) -> Option<rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            return Some(r.clone());
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(r.clone());
            }
        }
        source = s.source();
    }
    None
}

/// Whether a TLS failure means the server speaks TLS (its certificate was refused, or it sent
/// an alert): trying plain HTTP instead would only hide the real problem.
pub fn server_speaks_tls(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::AlertReceived(_)
            | rustls::Error::PeerIncompatible(_)
    )
}

/// What to tell the user about a TLS failure with `host`.
pub fn explain(host: &str, e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => format!(
            "TLS certificate problem with {host}: {e}; trust its CA with --cert-dir DIR (DIR \
             holding ca.crt or *.crt), /etc/containers/certs.d/{host}/ or SSL_CERT_FILE, or \
             skip verification with --tls-verify=false"
        ),
        rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired
            | rustls::AlertDescription::BadCertificate
            | rustls::AlertDescription::UnknownCA,
        ) => format!(
            "TLS handshake with {host} failed: {e} (the registry wants a client certificate it \
             trusts: NAME.cert and NAME.key in --cert-dir DIR)"
        ),
        rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_) => {
            format!("TLS handshake with {host} failed: {e}")
        }
        _ => format!(
            "TLS handshake with {host} failed: {e} (a plain-HTTP registry? use \
             --tls-verify=false)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_cert_dir_and_bad_files_are_named() {
        let dir = std::env::temp_dir().join(format!("rrun-image-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = TlsOptions {
            no_verify: false,
            cert_dir: Some(dir.clone()),
        };
        let e = client_config("r.example", &opts).unwrap_err().to_string();
        assert!(e.starts_with(&dir.display().to_string()), "{e}");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.crt"), b"not pem").unwrap();
        let e = client_config("r.example", &opts).unwrap_err().to_string();
        assert!(e.contains("ca.crt: holds no PEM certificate"), "{e}");
        std::fs::remove_file(dir.join("ca.crt")).unwrap();
        // An empty directory: the public roots only.
        client_config("r.example", &opts).unwrap();
        let e = explain(
            "r.example:5000",
            &rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(
            e.contains("certificate problem") && e.contains("--cert-dir"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
