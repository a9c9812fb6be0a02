//! The listener: plain HTTP or TLS (HTTP/1.1 and HTTP/2) with a generated CA.

use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::Shared;

/// A CA and a server certificate for 127.0.0.1/localhost signed by it.
pub struct TlsMaterial {
    /// CA certificate, PEM.
    pub ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl TlsMaterial {
    /// Generates a fresh CA and server certificate.
    ///
    /// # Errors
    /// When generation or rustls configuration fails.
    pub fn generate() -> crate::Result<TlsMaterial> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kube-sim-ca");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let cert = params.signed_by(&key, &issuer)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        })
    }
}

/// A running accept loop; `stop` closes the listener and every connection.
pub struct Serving {
    stop: tokio::sync::watch::Sender<bool>,
}

impl Serving {
    /// Stops the accept loop and closes all connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the accept loop.
///
/// # Errors
/// Never at present; kept for symmetry with TLS setup.
pub fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Arc<TlsMaterial>>,
) -> crate::Result<Serving> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let acceptor = tls.map(|t| TlsAcceptor::from(t.config.clone()));
    tokio::spawn(async move {
        let mut stop = stop_rx.clone();
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
                _ = stop.changed() => return,
            };
            let shared = shared.clone();
            let acceptor = acceptor.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req| crate::api::handle(shared.clone(), req));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(a) => {
                        let Ok(s) = a.accept(stream).await else {
                            return;
                        };
                        let conn = builder.serve_connection(TokioIo::new(s), svc);
                        tokio::select! { _ = conn => {}, _ = stop.changed() => {} }
                    }
                    None => {
                        let conn = builder.serve_connection(TokioIo::new(stream), svc);
                        tokio::select! { _ = conn => {}, _ = stop.changed() => {} }
                    }
                }
            });
        }
    });
    Ok(Serving { stop: stop_tx })
}
