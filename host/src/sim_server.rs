//! [`SimServer`]: the pure [`Sandbox`] behind a real loopback HTTP/1.1 socket.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use reportflow::sim::{LoggedRequest, Sandbox, SandboxConfig, SimRequest, SimResponse};
use reportflow::Method;

use crate::http1::{Connection, IncomingRequest, OutgoingResponse};
use crate::Clock;

/// Connections beyond this many are closed at once; a test that leaks
/// connections fails loudly instead of exhausting threads.
const MAX_CONNECTIONS: usize = 256;
/// An idle keep-alive connection is closed after this long, so a client
/// that vanished without closing does not pin a thread forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Path of the hosts document: `{"api": "http://…", "downloads": "http://…"}`.
pub const HOSTS_PATH: &str = "/_sim/hosts";
/// Path of the request log (JSON array of [`LoggedRequest`]).
pub const REQUEST_LOG_PATH: &str = "/_sim/requests";
/// Path of the quota document: `{"violations": N}`, the requests the
/// simulators refused because an account's quota was spent
/// ([`Sandbox::quota_violations`]).
pub const QUOTA_PATH: &str = "/_sim/quota";
/// Prefix of the ground-truth endpoint: `GET /_sim/reports/{reportId}`
/// answers the decoded report the simulator generated, or 404.
pub const REPORT_CONTENT_PREFIX: &str = "/_sim/reports/";

/// Headers a browser page on another origin may read from responses.
/// Explicit names as well as `*`, because the wildcard does not apply to
/// credentialed requests.
const EXPOSED_HEADERS: &str = "*, Location, Retry-After, Content-MD5, Content-Length, Content-Type, \
    X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-RateLimit-Resource-Until, X-Amzn-RequestId";
/// Request headers a page may send when the preflight does not list its own.
/// `Authorization` is named because `*` never covers it.
const ALLOWED_HEADERS: &str = "*, Authorization, Content-Type, Accept, Content-MD5, \
    Amazon-Advertising-API-ClientId, Amazon-Advertising-API-Scope";

/// The simulators of every provider served over real HTTP/1.1 on a local
/// socket, for end-to-end tests and the CLI's `sim` and `demo` commands.
///
/// One thread accepts connections and one thread serves each connection;
/// every request is answered by the one [`Sandbox`], behind a mutex, at the
/// wall-clock time of its arrival. A panic while answering one request is
/// answered with a 500 and leaves the server running.
///
/// It listens on two ports, as production has two kinds of host: the API
/// origin ([`SimServer::base_url`], every provider under `/amazon-ads/…`,
/// `/lingxing/…`, `/yandex-market/…`) and the download origin
/// ([`SimServer::download_base_url`], the presigned report links), so a
/// client that follows a redirect to a report drops its `Authorization`
/// as it would in production. Each origin answers only its own paths.
///
/// Both origins also answer:
/// - `GET /_sim/hosts`: `{"api": …, "downloads": …}`;
/// - `GET /_sim/requests`: the request log as JSON ([`LoggedRequest`]s);
/// - `GET /_sim/quota`: `{"violations": N}`, requests refused over a quota;
/// - `GET /_sim/reports/{reportId}`: the decoded report the simulator
///   generated (ground truth), or 404;
/// - `OPTIONS *`: a CORS preflight, 204. Every response carries CORS headers
///   so pages on any origin can drive the simulators from a browser.
///
/// Dropping the server (or [`SimServer::shutdown`]) stops accepting, closes
/// every open connection and joins the accepting thread.
pub struct SimServer {
    base_url: String,
    download_base_url: String,
    local_addr: SocketAddr,
    download_addr: SocketAddr,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
}

struct Shared {
    sandbox: Mutex<Sandbox>,
    /// The simulators' time.
    clock: Clock,
    /// `{"api": …, "downloads": …}`, served at [`HOSTS_PATH`].
    hosts: Vec<u8>,
    stopping: AtomicBool,
    /// Clones of the open sockets, so shutdown can close them.
    connections: Mutex<HashMap<u64, TcpStream>>,
    next_connection: AtomicU64,
}

impl SimServer {
    /// Binds `addr` (e.g. `127.0.0.1:0` for any free port) for the APIs,
    /// and another free port on the same interface for the download host,
    /// and starts serving a [`Sandbox`] built from `config`.
    ///
    /// `config.base_url` and `config.download_base_url` are replaced by the
    /// server's own origins (known only once the sockets are bound), so the
    /// simulators hand out links that point back here.
    pub fn start(addr: &str, config: SandboxConfig) -> io::Result<Self> {
        Self::start_on(addr, config, Clock::WALL)
    }

    /// [`SimServer::start`] with the simulators on `clock`: a compressed
    /// clock shared with the hosts under test runs a plan's hours of quotas
    /// and generation times in seconds (link lifetimes, `Retry-After` and
    /// quota windows all run on it).
    pub fn start_on(addr: &str, config: SandboxConfig, clock: Clock) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let download_listener = TcpListener::bind(SocketAddr::new(local_addr.ip(), 0))?;
        let download_addr = download_listener.local_addr()?;
        let base_url = format!("http://{}", reachable(local_addr));
        let download_base_url = format!("http://{}", reachable(download_addr));
        let config = config
            .with_base_url(base_url.clone())
            .with_download_base_url(download_base_url.clone());
        let hosts = serde_json::json!({ "api": base_url, "downloads": download_base_url });
        let shared = Arc::new(Shared {
            sandbox: Mutex::new(Sandbox::new(config)),
            clock,
            hosts: hosts.to_string().into_bytes(),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_connection: AtomicU64::new(0),
        });
        let mut acceptors = Vec::with_capacity(2);
        for (listener, origin) in [
            (listener, base_url.clone()),
            (download_listener, download_base_url.clone()),
        ] {
            let shared = Arc::clone(&shared);
            acceptors.push(
                thread::Builder::new()
                    .name("sim-accept".into())
                    .spawn(move || accept_loop(&listener, &shared, &origin))?,
            );
        }
        Ok(Self {
            base_url,
            download_base_url,
            local_addr,
            download_addr,
            shared,
            acceptors,
        })
    }

    /// The API origin, e.g. `http://127.0.0.1:41234` (no trailing slash).
    /// A provider's simulator lives under `{base_url}/{provider}`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The download host's origin, e.g. `http://127.0.0.1:41235`: where the
    /// simulators' presigned report links point.
    pub fn download_base_url(&self) -> &str {
        &self.download_base_url
    }

    /// The bound socket address of the APIs.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every request the simulators have answered so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.sandbox().requests().to_vec()
    }

    /// The decoded report the simulator generated for `report_id` (ground
    /// truth for comparisons), if it knows the id.
    pub fn report_content(&self, report_id: &str) -> Option<Vec<u8>> {
        self.shared.sandbox().report_content(report_id)
    }

    /// Runs `f` with the sandbox locked, e.g. to ask it for a provider's
    /// job config. Requests wait meanwhile; keep `f` short.
    pub fn with_sandbox<R>(&self, f: impl FnOnce(&mut Sandbox) -> R) -> R {
        f(&mut self.shared.sandbox())
    }

    /// Blocks the calling thread until the server stops (for a process whose
    /// only job is serving, such as `reportflow sim`).
    pub fn wait(mut self) {
        for acceptor in self.acceptors.drain(..) {
            // A panic on an accepting thread already ended its serving; there
            // is nothing left to wait for.
            let _ = acceptor.join();
        }
    }

    /// Stops the server: no new connections, open ones closed, the
    /// accepting thread joined. Dropping the server does the same.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // The acceptors are blocked in accept(); a connection of our own
        // wakes each up to notice the flag. If it fails, the listener is
        // already gone.
        for addr in [self.local_addr, self.download_addr] {
            let _ = TcpStream::connect_timeout(&reachable(addr), Duration::from_secs(1));
        }
        for (_, stream) in self.shared.connections().drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("base_url", &self.base_url)
            .field("download_base_url", &self.download_base_url)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The sandbox. A poisoned lock is taken anyway: every sandbox call runs
    /// under `catch_unwind` inside the lock, so poisoning cannot happen, and
    /// if it somehow did, serving a possibly odd state beats a dead server.
    fn sandbox(&self) -> MutexGuard<'_, Sandbox> {
        self.sandbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connections(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The address clients should use: a wildcard bind is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// Accepts the connections of one origin (`origin` is what its requests
/// reached, handed to the sandbox with each).
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, origin: &str) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off briefly
                // rather than spin, and keep serving.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        {
            let mut connections = shared.connections();
            if connections.len() >= MAX_CONNECTIONS {
                continue;
            }
            match stream.try_clone() {
                Ok(clone) => connections.insert(id, clone),
                Err(_) => continue,
            };
        }
        let worker = Arc::clone(shared);
        let origin = origin.to_owned();
        let spawned = thread::Builder::new()
            .name(format!("sim-conn-{id}"))
            .spawn(move || {
                // Whatever happens on this connection stays on it.
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    serve_connection(stream, &worker, &origin)
                }));
                worker.connections().remove(&id);
            });
        if spawned.is_err() {
            if let Some(stream) = shared.connections().remove(&id) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared, origin: &str) {
    // Without these a vanished client pins the thread; Nagle would delay the
    // small responses of a request/response conversation.
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut connection = Connection::new(stream);
    loop {
        let request = match connection.read_request() {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(error) => {
                if let Some(status) = error.status() {
                    let body = error.detail().into_bytes();
                    let headers = cors_headers(None);
                    let _ = connection.write_response(&OutgoingResponse {
                        status,
                        headers: &headers,
                        body: &body,
                        cut_after: None,
                        keep_alive: false,
                        head_only: false,
                    });
                }
                return;
            }
        };
        let answer = answer(shared, origin, &request);
        let keep_alive = request.keep_alive && answer.disconnect_after.is_none();
        let written = connection.write_response(&OutgoingResponse {
            status: answer.status,
            headers: &answer.headers,
            body: &answer.body,
            cut_after: answer.disconnect_after,
            keep_alive,
            head_only: request.method.eq_ignore_ascii_case("HEAD"),
        });
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

/// A response with this server's CORS headers added.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    disconnect_after: Option<usize>,
}

fn answer(shared: &Shared, origin: &str, request: &IncomingRequest) -> Answer {
    let mut headers = cors_headers(request.header("access-control-request-headers"));
    let path = request.target.split('?').next().unwrap_or_default();
    let method = request.method.to_ascii_uppercase();
    let (status, body, disconnect_after) = if method == "OPTIONS" {
        (204, Vec::new(), None)
    } else if path == HOSTS_PATH && method == "GET" {
        headers.push(("Content-Type".into(), "application/json".into()));
        (200, shared.hosts.clone(), None)
    } else if path == REQUEST_LOG_PATH && method == "GET" {
        headers.push(("Content-Type".into(), "application/json".into()));
        let log = serde_json::to_vec(shared.sandbox().requests()).unwrap_or_default();
        (200, log, None)
    } else if path == QUOTA_PATH && method == "GET" {
        headers.push(("Content-Type".into(), "application/json".into()));
        let violations = shared.sandbox().quota_violations();
        let document = serde_json::json!({ "violations": violations });
        (200, document.to_string().into_bytes(), None)
    } else if let Some(report_id) = path
        .strip_prefix(REPORT_CONTENT_PREFIX)
        .filter(|_| method == "GET")
    {
        match shared.sandbox().report_content(report_id) {
            Some(content) => (200, content, None),
            None => (
                404,
                format!("no report `{report_id}` in this simulator").into_bytes(),
                None,
            ),
        }
    } else if let Some(sim_method) = sim_method(&method) {
        let mut sim_request = SimRequest::new(sim_method, request.target.clone());
        sim_request.origin = Some(origin.to_owned());
        sim_request.headers.clone_from(&request.headers);
        sim_request.body.clone_from(&request.body);
        let now = shared.clock.now();
        let mut sandbox = shared.sandbox();
        // Caught inside the lock, so a panicking simulator never poisons it.
        match panic::catch_unwind(AssertUnwindSafe(|| sandbox.handle(now, &sim_request))) {
            Ok(SimResponse {
                status,
                headers: sim_headers,
                body,
                disconnect_after,
                ..
            }) => {
                headers.extend(sim_headers);
                (status, body, disconnect_after)
            }
            Err(_) => (
                500,
                b"the simulator panicked while answering this request".to_vec(),
                None,
            ),
        }
    } else {
        headers.push(("Allow".into(), "GET, POST, PUT, DELETE, OPTIONS".into()));
        (
            405,
            format!("the simulators do not serve {method}").into_bytes(),
            None,
        )
    };
    Answer {
        status,
        headers,
        body,
        disconnect_after,
    }
}

/// The simulators' methods; anything else is answered 405 here.
fn sim_method(method: &str) -> Option<Method> {
    match method {
        "GET" => Some(Method::Get),
        "POST" => Some(Method::Post),
        "PUT" => Some(Method::Put),
        "DELETE" => Some(Method::Delete),
        _ => None,
    }
}

fn cors_headers(requested_headers: Option<&str>) -> Vec<(String, String)> {
    // Echoing the preflight's list is the one form that covers any header,
    // `Authorization` included.
    let allowed = requested_headers
        .filter(|value| !value.trim().is_empty())
        .unwrap_or(ALLOWED_HEADERS);
    vec![
        ("Access-Control-Allow-Origin".into(), "*".into()),
        (
            "Access-Control-Allow-Methods".into(),
            "GET, POST, PUT, DELETE, OPTIONS".into(),
        ),
        ("Access-Control-Allow-Headers".into(), allowed.into()),
        (
            "Access-Control-Expose-Headers".into(),
            EXPOSED_HEADERS.into(),
        ),
        ("Access-Control-Max-Age".into(), "600".into()),
    ]
}
