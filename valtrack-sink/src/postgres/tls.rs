//! TLS to the database, with libpq's meaning of `sslmode` (a managed PostgreSQL usually
//! requires TLS):
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (default) | when the server offers it | no, unless there is a root file (then as `verify-ca`) |
//! | `require` | yes | no, unless there is a root file (then as `verify-ca`) |
//! | `verify-ca` | yes | signed by a trusted root |
//! | `verify-full` | yes | signed by a trusted root, and for the host connected to |
//!
//! Trusted roots: the PEM file `sslrootcert` names, else `~/.postgresql/root.crt` when it
//! exists (the `verify-*` modes fail without either). `sslrootcert=system` trusts the
//! system's roots and, as in libpq, needs `verify-full` (its default then): any public
//! certificate would pass a weaker check. `tokio-postgres` knows only the first three
//! modes and no root file, so both settings are taken out of the URL here.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PgError;

/// What `sslmode` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(s: &str) -> Result<Self, PgError> {
        Ok(match s {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            // libpq's `allow` (plain first, TLS if refused) has no tokio-postgres equivalent
            other => {
                return Err(PgError::Url(format!(
                    "sslmode={other}: expected disable, prefer, require, verify-ca or verify-full"
                )))
            }
        })
    }

    /// What tokio-postgres is told: it negotiates, the connector checks.
    fn negotiation(self) -> SslMode {
        match self {
            Self::Disable => SslMode::Disable,
            Self::Prefer => SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => SslMode::Require,
        }
    }
}

/// The roots a certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// None given and no `~/.postgresql/root.crt`.
    None,
    /// A PEM file.
    File(PathBuf),
    /// `sslrootcert=system`.
    System,
}

/// The TLS settings of a database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) mode: Mode,
    pub(crate) roots: Roots,
}

/// libpq's default root file, when it exists.
fn default_root() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = PathBuf::from(home).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

/// `%XX` escapes of a URL query value.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Takes `sslmode` and `sslrootcert` out of `url`: the configuration tokio-postgres parses,
/// and the TLS settings.
pub(crate) fn split(url: &str) -> Result<(tokio_postgres::Config, Tls), PgError> {
    let mut mode = None;
    let mut root = None;
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let mut kept = Vec::new();
                for param in query.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = param.split_once('=').unwrap_or((param, ""));
                    match k {
                        "sslmode" => mode = Some(Mode::parse(&percent_decode(v))?),
                        "sslrootcert" => root = Some(percent_decode(v)),
                        _ => kept.push(param),
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        // libpq's key=value form: tokio-postgres parses disable/prefer/require itself.
        if url.contains("sslrootcert") || url.contains("verify-ca") || url.contains("verify-full") {
            return Err(PgError::Url(
                "sslrootcert and sslmode=verify-ca/verify-full need the URL form \
                 (postgres://user@host/db?sslmode=verify-full&sslrootcert=/path/ca.pem)"
                    .into(),
            ));
        }
        url.to_owned()
    };
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e: tokio_postgres::Error| PgError::Url(e.to_string()))?;
    let roots = match root.as_deref() {
        Some("system") => Roots::System,
        Some(path) => Roots::File(PathBuf::from(path)),
        None => default_root().map_or(Roots::None, Roots::File),
    };
    let mode = match mode {
        Some(m) => m,
        None if roots == Roots::System => Mode::VerifyFull,
        None => match config.get_ssl_mode() {
            SslMode::Disable => Mode::Disable,
            SslMode::Require => Mode::Require,
            _ => Mode::Prefer,
        },
    };
    if roots == Roots::System && !matches!(mode, Mode::VerifyFull | Mode::Disable) {
        return Err(PgError::Url(
            "sslrootcert=system needs sslmode=verify-full (any public certificate would pass a weaker check)"
                .into(),
        ));
    }
    config.ssl_mode(mode.negotiation());
    Ok((config, Tls { mode, roots }))
}

impl Tls {
    /// The connector for these settings.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, PgError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::Tls(e.to_string()))?;
        let verify = match self.mode {
            Mode::Disable => false,
            Mode::Prefer | Mode::Require => self.roots != Roots::None,
            Mode::VerifyCa | Mode::VerifyFull => true,
        };
        let config = if !verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
                .with_no_client_auth()
        } else {
            let roots = Arc::new(self.roots()?);
            if self.mode == Mode::VerifyFull {
                builder.with_root_certificates(roots).with_no_client_auth()
            } else {
                let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| PgError::Tls(e.to_string()))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AnyName(inner)))
                    .with_no_client_auth()
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, PgError> {
        let mut roots = RootCertStore::empty();
        match &self.roots {
            Roots::File(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| PgError::Tls(format!("sslrootcert {}: {e}", path.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(PgError::Tls(format!(
                        "sslrootcert {}: no certificate in it",
                        path.display()
                    )));
                }
            }
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(PgError::Tls("sslrootcert=system: the system has no root certificates".into()));
                }
            }
            Roots::None => {
                return Err(PgError::Tls(
                    "a verify mode needs trusted roots: sslrootcert=/path/ca.pem (or ~/.postgresql/root.crt), \
                     or sslrootcert=system with verify-full"
                        .into(),
                ))
            }
        }
        Ok(roots)
    }
}

/// `prefer` and `require` without a root file: encrypted, the certificate not checked (as
/// libpq does), the handshake's signatures still verified.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// `verify-ca`: the chain checked against the roots, the name not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_leave_the_url() {
        let (c, t) = split("postgres://u:p@h:5/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x")
            .expect("parses");
        assert_eq!(t.mode, Mode::VerifyFull);
        assert_eq!(t.roots, Roots::File(PathBuf::from("/tmp/ca.pem")));
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_application_name(), Some("x"));
        assert_eq!(c.get_dbname(), Some("db"));

        let (c, t) = split("postgres://u@h/db").expect("parses");
        assert_eq!((t.mode, c.get_ssl_mode()), (Mode::Prefer, SslMode::Prefer));
        let (c, t) =
            split("postgres://u@h/db?sslmode=disable&sslrootcert=/nonexistent").expect("parses");
        assert_eq!(
            (t.mode, c.get_ssl_mode()),
            (Mode::Disable, SslMode::Disable)
        );
        assert!(t.connector().is_ok(), "disable reads no root file");
        let (_, t) = split("postgres://u@h/db?sslrootcert=system").expect("parses");
        assert_eq!((t.mode, t.roots), (Mode::VerifyFull, Roots::System));
        let (c, t) = split("host=h user=u sslmode=require").expect("parses");
        assert_eq!(
            (t.mode, c.get_ssl_mode()),
            (Mode::Require, SslMode::Require)
        );
    }

    #[test]
    fn weak_modes_and_missing_roots_are_refused_clearly() {
        let e = split("postgres://h/db?sslmode=allow").expect_err("allow is not offered");
        assert!(e.to_string().contains("sslmode=allow"), "{e}");
        let e = split("host=h sslmode=verify-full").expect_err("needs the URL form");
        assert!(e.to_string().contains("URL form"), "{e}");
        for weak in ["prefer", "require", "verify-ca"] {
            let e = split(&format!(
                "postgres://h/db?sslmode={weak}&sslrootcert=system"
            ))
            .expect_err("system roots need verify-full");
            assert!(e.to_string().contains("verify-full"), "{e}");
        }
        let e = Tls {
            mode: Mode::VerifyCa,
            roots: Roots::File("/nonexistent/ca.pem".into()),
        }
        .connector()
        .err()
        .expect("no such file");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let e = Tls {
            mode: Mode::VerifyFull,
            roots: Roots::None,
        }
        .connector()
        .err()
        .expect("no roots");
        assert!(e.to_string().contains("sslrootcert"), "{e}");
    }
}
