//! How the harness reaches a target, one configuration for every client of a run (the probe's,
//! the timer's and each goose user's):
//! - TLS as curl does it: the platform's roots plus `--cacert`/`tls.ca`; a self-signed
//!   certificate given as the CA (`openssl req -x509`, CA:TRUE) is trusted as itself; a client
//!   certificate is presented; `--insecure` verifies nothing (and every report says so);
//! - the proxy: the environment's (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, read by
//!   the same matcher reqwest uses), a profile's `proxy:`, or none for the embedded server;
//! - the headers a profile adds to every request (a check's own header of the same name wins).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::Timeouts;
use crate::error::Error;

/// TLS settings, read and parsed (a file that is no PEM certificate is an error before the
/// first request).
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// Extra trust anchors, added to the platform's roots.
    pub roots: Vec<CertificateDer<'static>>,
    /// Where they came from, for the report.
    pub ca_files: Vec<PathBuf>,
    pub client: Option<ClientIdentity>,
    pub insecure: bool,
}

/// A client certificate chain and its key (a secret: never printed).
#[derive(Clone)]
pub struct ClientIdentity {
    pub cert_file: PathBuf,
    /// The key as a curl argument that reads it (a quoted path, or a process substitution
    /// reading its variable), for replay lines.
    pub key_arg: String,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_file", &self.cert_file)
            .field("key", &"…")
            .finish()
    }
}

/// The TLS options of the command line (`--cacert`, `--cert`, `--key`, `--insecure`): each one
/// given replaces the profile's.
#[derive(Debug, Clone, Default)]
pub struct TlsFlags {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: bool,
}

impl TlsFlags {
    pub fn given(&self) -> bool {
        self.cacert.is_some() || self.cert.is_some() || self.key.is_some() || self.insecure
    }
}

impl TlsConfig {
    /// The command line's options over the profile's.
    pub fn apply(&mut self, flags: &TlsFlags) -> Result<(), Error> {
        if let Some(path) = &flags.cacert {
            self.roots = certificates(path).map_err(|e| Error::Usage(format!("--cacert {e}")))?;
            self.ca_files = vec![path.clone()];
        }
        match (&flags.cert, &flags.key) {
            (Some(cert), key) => {
                // As curl: without --key, the key is looked for in the certificate's file.
                let key_path = key.as_deref().unwrap_or(cert);
                let pem = std::fs::read_to_string(key_path).map_err(|e| {
                    Error::Usage(format!("--key {}: cannot read: {e}", key_path.display()))
                })?;
                self.client = Some(
                    ClientIdentity::read(
                        cert,
                        &pem,
                        &format!("--key {}", key_path.display()),
                        super::replay::quoted(key_path),
                    )
                    .map_err(Error::Usage)?,
                );
            }
            (None, Some(_)) => {
                return Err(Error::Usage(
                    "--key goes with --cert (the client certificate)".into(),
                ));
            }
            (None, None) => {}
        }
        if flags.insecure {
            self.insecure = true;
        }
        Ok(())
    }
}

impl ClientIdentity {
    /// `cert` is a PEM file of the chain; `key_pem` the key's PEM text (`key_origin` names where
    /// it came from, never its content).
    pub fn read(
        cert: &Path,
        key_pem: &str,
        key_origin: &str,
        key_arg: String,
    ) -> Result<Self, String> {
        let chain = certificates(cert).map_err(|e| format!("client certificate {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
            format!("{key_origin}: holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")
        })?;
        Ok(Self {
            cert_file: cert.to_path_buf(),
            key_arg,
            chain,
            key: Arc::new(key),
        })
    }
}

/// Every certificate of a PEM file; none is an error naming the file.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// Which proxy carries the requests.
#[derive(Debug, Clone, Default)]
pub enum ProxySetting {
    /// The environment's, as curl reads it.
    #[default]
    Environment,
    /// None: the embedded server is always reached directly.
    Direct,
    /// A profile's `proxy:` (its userinfo, when it has one, came from a secret source, and
    /// `shell` is the expression that yields the URL: `$PROXY_URL`, for replay lines).
    Url { url: String, shell: Option<String> },
}

/// A header a profile adds to every request. `secret`: for a secret value, the shell
/// expression that yields it (`$GATEWAY_TOKEN`), which a replay line writes instead of it.
#[derive(Debug, Clone)]
pub struct ExtraHeader {
    pub name: String,
    pub value: String,
    pub secret: Option<String>,
}

/// How a target is reached: TLS, proxy and extra headers, as the profile and the command line
/// set them.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub tls: TlsConfig,
    pub proxy: ProxySetting,
    pub headers: Vec<ExtraHeader>,
}

impl Connection {
    /// The secret values it holds, for the redactor: secret header values and the proxy URL's
    /// user name and password.
    pub fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .headers
            .iter()
            .filter(|h| h.secret.is_some())
            .map(|h| h.value.clone())
            .collect();
        if let ProxySetting::Url { url, .. } = &self.proxy
            && let Ok(u) = reqwest::Url::parse(url)
        {
            // Both halves of the userinfo: a proxy may take a token as the user name.
            for part in [u.username(), u.password().unwrap_or_default()] {
                if part.is_empty() {
                    continue;
                }
                out.push(part.to_string());
                if let Ok(decoded) = percent_encoding::percent_decode_str(part).decode_utf8() {
                    out.push(decoded.into_owned());
                }
            }
        }
        out
    }
}

/// A `Connection` ready to build clients from: the rustls configuration and headers built once.
#[derive(Clone)]
pub struct Transport {
    timeouts: Timeouts,
    tls: Arc<rustls::ClientConfig>,
    proxy: Option<reqwest::Proxy>,
    direct: bool,
    headers: reqwest::header::HeaderMap,
    /// The proxy the target is reached through (no credentials) and where it was set.
    through: Option<(String, String)>,
    /// The shell expression of the proxy's URL (`proxy_shell`).
    proxy_shell: Option<String>,
}

impl Transport {
    pub fn new(base_url: &str, connection: &Connection, timeouts: Timeouts) -> Result<Self, Error> {
        let tls = client_config(&connection.tls)?;
        let mut headers = reqwest::header::HeaderMap::new();
        for h in &connection.headers {
            let name = reqwest::header::HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| Error::Usage(format!("header `{}` is no header name", h.name)))?;
            let mut value = reqwest::header::HeaderValue::from_str(&h.value).map_err(|_| {
                Error::Usage(format!(
                    "header `{}`: its value is no header value (control characters or non-ASCII)",
                    h.name
                ))
            })?;
            value.set_sensitive(h.secret.is_some());
            headers.append(name, value);
        }
        let mut proxy_shell = None;
        let (proxy, direct, through) = match &connection.proxy {
            ProxySetting::Direct => (None, true, None),
            ProxySetting::Environment => {
                let through = environment_proxy(base_url);
                proxy_shell = through
                    .as_ref()
                    .and_then(|(_, origin)| origin.strip_prefix("from "))
                    .filter(|v| v.ends_with("_PROXY") || v.ends_with("_proxy"))
                    .map(|v| format!("${v}"));
                (None, false, through)
            }
            ProxySetting::Url { url, shell } => {
                let p = reqwest::Proxy::all(url.as_str())
                    .map_err(|e| Error::Usage(format!("proxy {}: {e}", shown_proxy(url))))?
                    .no_proxy(reqwest::NoProxy::from_env());
                let through = (!environment_bypass(base_url))
                    .then(|| (shown_proxy(url), "profile proxy".to_string()));
                if through.is_some() {
                    proxy_shell = shell.clone();
                }
                (Some(p), false, through)
            }
        };
        Ok(Self {
            timeouts,
            tls: Arc::new(tls),
            proxy,
            direct,
            headers,
            through,
            proxy_shell,
        })
    }

    /// The proxy requests to the target go through, shown without credentials, and where it
    /// was set (`http://127.0.0.1:3128 (from HTTPS_PROXY)`), when one applies.
    pub fn through(&self) -> Option<String> {
        self.through
            .as_ref()
            .map(|(url, origin)| format!("{url} ({origin})"))
    }

    /// The proxy's URL alone, without credentials.
    pub fn proxy_url(&self) -> Option<&str> {
        self.through.as_ref().map(|(url, _)| url.as_str())
    }

    /// The shell expression that yields the proxy's URL, credentials and all, when it came from
    /// a variable (`$HTTPS_PROXY`) or a profile's secret source (`$PROXY_URL`) and applies: a
    /// replay line writes it, never the URL's credentials.
    pub fn proxy_shell(&self) -> Option<&str> {
        self.proxy_shell.as_deref()
    }

    /// A client builder with every setting of this transport. `http1_only`: the timer's one
    /// connection speaks HTTP/1.1 (so ALPN offers only that).
    pub fn builder(&self, http1_only: bool) -> reqwest::ClientBuilder {
        let mut tls = (*self.tls).clone();
        tls.alpn_protocols = if http1_only {
            vec![b"http/1.1".to_vec()]
        } else {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        };
        let mut b = reqwest::Client::builder()
            .connect_timeout(self.timeouts.connect)
            .timeout(self.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(self.headers.clone())
            .tls_backend_preconfigured(tls);
        if http1_only {
            b = b.http1_only();
        }
        if self.direct {
            b = b.no_proxy();
        } else if let Some(p) = &self.proxy {
            b = b.proxy(p.clone());
        }
        b
    }
}

/// A proxy URL without its userinfo (which may hold a password).
pub fn shown_proxy(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => "(a proxy URL that does not parse)".into(),
    }
}

/// The proxy the environment gives for `base_url` (reqwest's own matcher), when one applies.
fn environment_proxy(base_url: &str) -> Option<(String, String)> {
    let uri: http::Uri = base_url.parse().ok()?;
    let matcher = hyper_util::client::proxy::matcher::Matcher::from_env();
    let i = matcher.intercept(&uri)?;
    let p = i.uri();
    let shown = format!(
        "{}://{}{}",
        p.scheme_str().unwrap_or("http"),
        p.host().unwrap_or_default(),
        p.port_u16().map(|n| format!(":{n}")).unwrap_or_default()
    );
    let var = if uri.scheme_str() == Some("https") {
        ["HTTPS_PROXY", "https_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy"]
    }
    .into_iter()
    .chain(["ALL_PROXY", "all_proxy"])
    .find(|v| std::env::var(v).is_ok_and(|x| !x.is_empty()))
    .unwrap_or("the environment");
    Some((shown, format!("from {var}")))
}

/// Whether `NO_PROXY` exempts `base_url`.
fn environment_bypass(base_url: &str) -> bool {
    let Ok(uri) = base_url.parse::<http::Uri>() else {
        return false;
    };
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .all("http://proxy.invalid:1")
        .no(std::env::var("NO_PROXY")
            .or_else(|_| std::env::var("no_proxy"))
            .unwrap_or_default())
        .build();
    matcher.intercept(&uri).is_none()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, Error> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(format!("TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure {
        Arc::new(Unverified(provider))
    } else {
        Arc::new(Anchored::new(&tls.roots, provider)?)
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match &tls.client {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| {
                Error::Usage(format!(
                    "client certificate {}: {e} (does the key belong to it?)",
                    id.cert_file.display()
                ))
            }),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The platform's verifier with the extra roots, and one allowance curl (OpenSSL) makes: a
/// certificate that is itself one of the given trust anchors is trusted for its names even
/// when it says CA:TRUE, which `openssl req -x509` writes by default (WebPKI refuses it as
/// `CaUsedAsEndEntity`). Its dates were checked by then (WebPKI checks them first).
#[derive(Debug)]
struct Anchored {
    inner: Arc<dyn ServerCertVerifier>,
    anchors: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl Anchored {
    fn new(
        extra: &[CertificateDer<'static>],
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, Error> {
        let inner: Arc<dyn ServerCertVerifier> =
            match rustls_platform_verifier::Verifier::new_with_extra_roots(
                extra.iter().cloned(),
                provider.clone(),
            ) {
                Ok(v) => Arc::new(v),
                // No system roots (a bare container): the given ones alone.
                Err(_) if !extra.is_empty() => {
                    let mut roots = rustls::RootCertStore::empty();
                    for c in extra {
                        roots
                            .add(c.clone())
                            .map_err(|e| Error::Usage(format!("TLS: a CA certificate: {e}")))?;
                    }
                    rustls::client::WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|e| Error::Usage(format!("TLS: {e}")))?
                }
                Err(e) => Arc::new(Refuse(format!(
                    "no trusted certificate: {e}; give the target's CA with --cacert or tls.ca"
                ))),
            };
        // `SSL_CERT_FILE` is read as the platform's roots; its certificates may be self-signed
        // servers' too.
        let mut anchors = extra.to_vec();
        if let Some(file) = std::env::var_os("SSL_CERT_FILE")
            && let Ok(certs) = certificates(Path::new(&file))
        {
            anchors.extend(certs);
        }
        Ok(Self {
            inner,
            anchors,
            provider,
        })
    }
}

fn ca_as_end_entity(e: &rustls::Error) -> bool {
    matches!(e, rustls::Error::InvalidCertificate(CertificateError::Other(o))
        if matches!(o.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity)))
}

impl ServerCertVerifier for Anchored {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e)
                if ca_as_end_entity(&e)
                    && self
                        .anchors
                        .iter()
                        .any(|a| a.as_ref() == end_entity.as_ref()) =>
            {
                let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
                    rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
                })?;
                cert.verify_is_valid_for_subject_name(server_name)
                    .map_err(|_| {
                        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
                    })?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `--insecure`: any certificate, any name (the handshake's signatures are still checked).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
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

/// No roots at all: every certificate is refused, with the reason.
#[derive(Debug)]
struct Refuse(String);

impl ServerCertVerifier for Refuse {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(self.0.clone()))
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(self.0.clone()))
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(self.0.clone()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
