//! The HTTP side: accepts connections (plain or TLS), applies the injected
//! faults, dispatches KMS operations and serves the `/_emulator/` admin API.

use crate::error::KmsError;
use crate::faults::{Counters, Faults, InFlight, Injected, Injector};
use crate::ops;
use crate::request::Request as KmsRequest;
use crate::store::{Snapshot, Store};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Larger request bodies are refused before they are parsed.
const MAX_BODY: usize = 1 << 20;

pub struct Options {
    pub host: String,
    pub port: u16,
    pub region: String,
    pub account: String,
    pub state: Option<PathBuf>,
    pub seed: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub faults: Faults,
    /// Seconds GetParametersForImport's token and wrapping key stay valid.
    pub import_token_ttl: f64,
}

pub struct Emulator {
    pub store: Store,
    pub injector: Injector,
    pub counters: Counters,
    state_file: Option<PathBuf>,
    save_lock: Mutex<()>,
}

pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    pub emulator: Arc<Emulator>,
    pub task: tokio::task::JoinHandle<()>,
}

fn read_snapshot(path: &PathBuf) -> Result<Snapshot, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Emulator {
    fn new(opts: &Options) -> Result<Self, String> {
        let mut store = Store::new(opts.account.clone(), opts.region.clone());
        store.import_token_ttl = opts.import_token_ttl;
        if let Some(state) = &opts.state {
            if state.exists() {
                store
                    .load(read_snapshot(state)?)
                    .map_err(|e| format!("{}: {e}", state.display()))?;
            }
        }
        if let Some(seed) = &opts.seed {
            store
                .load(read_snapshot(seed)?)
                .map_err(|e| format!("{}: {e}", seed.display()))?;
        }
        let emulator = Emulator {
            store,
            injector: Injector::new(opts.faults.clone()),
            counters: Counters::default(),
            state_file: opts.state.clone(),
            save_lock: Mutex::new(()),
        };
        emulator.save()?;
        Ok(emulator)
    }

    /// Writes the state file, if there is one, atomically and owner-only:
    /// it holds private keys.
    fn save(&self) -> Result<(), String> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let _guard = self.save_lock.lock();
        let json = serde_json::to_vec_pretty(&self.store.snapshot()).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        // A new file, never an existing one: create_new (O_EXCL) follows no
        // symbolic link, so a link left at the temporary name cannot make
        // the emulator write its private keys somewhere else. What is left
        // there (a crashed save, or such a link) is removed, not followed.
        let create = || {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
        };
        let mut f = match create() {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
                create()
            }
            other => other,
        }
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
        let written = std::io::Write::write_all(&mut f, &json)
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{}: {e}", path.display()));
        }
        Ok(())
    }
}

fn tls_acceptor(cert_out: &PathBuf) -> Result<TlsAcceptor, String> {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    std::fs::write(cert_out, certified.cert.pem())
        .map_err(|e| format!("{}: {e}", cert_out.display()))?;
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
        certified.signing_key.serialize_der().into(),
    );
    let mut config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Binds and starts serving; returns once the address is known.
pub async fn start(opts: Options) -> Result<Running, String> {
    let emulator = Arc::new(Emulator::new(&opts)?);
    let listener = TcpListener::bind((opts.host.as_str(), opts.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", opts.host, opts.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let tls = opts.tls_cert.as_ref().map(tls_acceptor).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{addr}");
    let task = tokio::spawn(accept_loop(listener, tls, emulator.clone()));
    Ok(Running {
        url,
        addr,
        emulator,
        task,
    })
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, emulator: Arc<Emulator>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: wait and keep serving.
                eprintln!("kms11-emulator: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        emulator
            .counters
            .connections
            .fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let emulator = emulator.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(emulator.clone(), req));
            let http = http1::Builder::new();
            let _ = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => http.serve_connection(TokioIo::new(s), service).await,
                    Err(_) => return,
                },
                None => http.serve_connection(TokioIo::new(stream), service).await,
            };
        });
    }
}

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

type Reply = Result<Response<Full<Bytes>>, DropConnection>;

fn respond(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        r.headers_mut().insert("x-amzn-requestid", id);
    }
    r
}

fn error(e: &KmsError) -> Response<Full<Bytes>> {
    respond(e.status, e.to_body())
}

/// The region of the SigV4 credential scope:
/// `Credential=AKID/DATE/REGION/kms/aws4_request`.
fn request_region(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get("authorization")?.to_str().ok()?;
    let scope = auth.split("Credential=").nth(1)?;
    let region = scope.split('/').nth(2)?;
    (!region.is_empty()).then(|| region.to_string())
}

async fn handle(emulator: Arc<Emulator>, req: Request<Incoming>) -> Reply {
    if req.uri().path().starts_with("/_emulator/") {
        return Ok(admin(&emulator, req).await);
    }
    let region =
        request_region(req.headers()).unwrap_or_else(|| emulator.store.default_region.clone());
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let is_post = req.method() == Method::POST;
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(error(&KmsError::validation(format!(
                "Request body is larger than {MAX_BODY} bytes or was cut short"
            ))))
        }
    };
    if target.is_empty() && is_post && is_get_caller_identity(&body) {
        emulator.counters.count_request("sts:GetCallerIdentity");
        return Ok(caller_identity(&emulator.store.account));
    }
    let name = target.strip_prefix("TrentService.").unwrap_or("");
    let op = match ops::lookup(name) {
        Some(op) if is_post => op,
        _ => {
            return Ok(error(&KmsError::new(
                "UnknownOperationException",
                format!("Operation '{target}' is not a KMS operation"),
            )))
        }
    };
    let counters = &emulator.counters;
    counters.count_request(name);
    let _in_flight = InFlight::new(counters);
    let faults = emulator.injector.faults.read().clone();
    let delay = faults.latency_ms + emulator.injector.extra_delay(&faults);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if faults.blackhole {
        counters.blackholed.fetch_add(1, Ordering::Relaxed);
        // Held until the black hole is lifted (or the emulator stops):
        // the client sees a connection that never answers, then closes.
        while emulator.injector.faults.read().blackhole {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        return Err(DropConnection);
    }
    if let Some(reply) = injected_reply(&emulator, &faults) {
        return reply;
    }
    let request = match KmsRequest::parse(&body, region) {
        Ok(r) => r,
        Err(e) => return Ok(error(&e)),
    };
    if let Some(e) = denied(&emulator, &faults, name, &request) {
        counters.denied.fetch_add(1, Ordering::Relaxed);
        return Ok(error(&e));
    }
    let mut result = op.run(&emulator.store, &request);
    if name == "Sign" && emulator.injector.wrong_signature(&faults) {
        if let Ok(v) = &mut result {
            spoil_signature(v);
            counters.wrong_signatures.fetch_add(1, Ordering::Relaxed);
        }
    }
    if result.is_ok() && op.mutates {
        if let Err(e) = emulator.save() {
            eprintln!("kms11-emulator: cannot save state: {e}");
        }
    }
    Ok(match result {
        Ok(v) => respond(200, serde_json::to_vec(&v).unwrap_or_default()),
        Err(e) => error(&e),
    })
}

/// The reply a request gets instead of its answer when the injector picks
/// a fault for it (counted), or None.
fn injected_reply(emulator: &Emulator, faults: &Faults) -> Option<Reply> {
    let counters = &emulator.counters;
    match emulator.injector.decide(faults) {
        Injected::None => None,
        Injected::Drop => {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            Some(Err(DropConnection))
        }
        Injected::Throttle => {
            counters.throttled.fetch_add(1, Ordering::Relaxed);
            Some(Ok(error(&KmsError::new(
                "ThrottlingException",
                "Rate exceeded",
            ))))
        }
        Injected::ServerError => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            Some(Ok(error(&KmsError::internal(
                "The request was rejected because an internal exception occurred. The request can be retried.",
            ))))
        }
    }
}

/// Changes the last byte of a Sign answer's signature: still the right
/// length, and for ECDSA still valid DER (the last byte is inside s).
fn spoil_signature(answer: &mut serde_json::Value) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(sig) = answer.get_mut("Signature") {
        if let Some(mut bytes) = sig.as_str().and_then(|s| b64.decode(s).ok()) {
            if let Some(last) = bytes.last_mut() {
                *last ^= 0x01;
            }
            *sig = serde_json::Value::String(b64.encode(bytes));
        }
    }
}

/// STS GetCallerIdentity (the AWS query protocol), so that a client pointed
/// at the emulator with `AWS_ENDPOINT_URL_STS` learns whose credentials it
/// uses, as `kms11 doctor` asks.
fn is_get_caller_identity(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|b| b.split('&').any(|p| p == "Action=GetCallerIdentity"))
}

fn caller_identity(account: &str) -> Response<Full<Bytes>> {
    let xml = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
         <GetCallerIdentityResult><Arn>arn:aws:iam::{account}:user/kms11-emulator</Arn>\
         <UserId>AIDAKMS11EMULATOR</UserId><Account>{account}</Account></GetCallerIdentityResult>\
         <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
        uuid::Uuid::new_v4()
    );
    let mut r = respond(200, xml.into_bytes());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

/// The AccessDeniedException a key policy without the permission gives.
fn denied(emulator: &Emulator, faults: &Faults, op: &str, req: &KmsRequest) -> Option<KmsError> {
    if faults.deny.is_empty() {
        return None;
    }
    let store = &emulator.store;
    let key = ops::key_member(req).and_then(|k| store.resolve(&req.region, k, true).ok());
    let hit = faults.deny.iter().any(|d| {
        d.operation == op
            && (d.key == "*"
                || match (&key, store.resolve(&req.region, &d.key, true)) {
                    (Some(k), Ok(rule)) => k.id == rule.id,
                    _ => false,
                })
    });
    hit.then(|| {
        let resource = key
            .map(|k| k.arn.clone())
            .unwrap_or_else(|| format!("arn:aws:kms:{}:{}:*", req.region, store.account));
        KmsError::new(
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{}:user/kms11-emulator is not authorized to perform: kms:{op} on resource: {resource} because no resource-based policy allows the kms:{op} action",
                store.account
            ),
        )
    })
}

fn json_reply(status: u16, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let mut r = respond(status, serde_json::to_vec(value).unwrap_or_default());
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

async fn admin(emulator: &Emulator, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return json_reply(400, &serde_json::json!({"error": "body too large"})),
    };
    match (method, path.as_str()) {
        (Method::GET, "/_emulator/stats") => json_reply(200, &emulator.counters.stats()),
        (Method::POST, "/_emulator/stats/reset") => {
            emulator.counters.reset();
            json_reply(200, &emulator.counters.stats())
        }
        (Method::GET, "/_emulator/faults") => json_reply(200, &*emulator.injector.faults.read()),
        (Method::POST, "/_emulator/faults") => {
            let body = if body.is_empty() {
                Bytes::from_static(b"{}")
            } else {
                body
            };
            match serde_json::from_slice::<Faults>(&body) {
                Ok(f) => match crate::check_faults(&f) {
                    Ok(()) => {
                        emulator.injector.set(f.clone());
                        json_reply(200, &f)
                    }
                    Err(e) => json_reply(400, &serde_json::json!({ "error": e })),
                },
                Err(e) => json_reply(400, &serde_json::json!({ "error": e.to_string() })),
            }
        }
        _ => json_reply(404, &serde_json::json!({"error": "no such admin endpoint"})),
    }
}
