//! A real OpenID provider for the SSO tests: panva/oidc-provider (OpenID Certified) run by Node
//! from `tests/oidc-provider` (installed by `make test`), behind a small proxy of ours that is the
//! issuer's address, so a test can tamper with what the token endpoint answers (as an attacker
//! in the middle would) and see the service refuse it. And a headless "browser" that signs in
//! through the provider's login form.
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// What the proxy does to the next token-endpoint answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Tamper {
    #[default]
    None,
    /// Flip one character of the ID token's signature.
    FlipSignature,
    /// Replace the ID token with this one (token substitution).
    SwapIdToken(String),
    /// Hold the answer this long (so a short-lived ID token expires on the way).
    Delay(Duration),
    /// The discovery document names this URL for this endpoint (an SSRF attempt: `jwks_uri` on
    /// another host, a token endpoint on an internal address).
    DiscoveryEndpoint(&'static str, String),
}

#[derive(Default)]
struct ProxyState {
    upstream: String,
    tamper: Tamper,
    last_id_token: Option<String>,
}

pub struct OpenIdProvider {
    pub issuer: String,
    /// Where it listens (the issuer's address, unless it was started under another issuer).
    pub front: String,
    state: Arc<Mutex<ProxyState>>,
    node: tokio::process::Child,
    config: (Value, Value, u64),
}

fn provider_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// Forwards a request to `upstream` as it came (method, path and query, headers, body) and reads
/// the answer: its status, headers (without framing) and body. `None` when upstream is down.
pub async fn forward(upstream: &str, req: Request) -> Option<(StatusCode, HeaderMap, Bytes)> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).expect("method");
    let mut headers = reqwest::header::HeaderMap::new();
    // The Host header goes through, so the provider builds its URLs on the issuer's address.
    for (k, v) in req.headers() {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
            v.as_bytes().try_into().unwrap(),
        );
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let answer = client.request(method, format!("{upstream}{path}")).headers(headers).body(body).send().await.ok()?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let mut out_headers = HeaderMap::new();
    for (k, v) in answer.headers() {
        if k != "content-length" && k != "transfer-encoding" {
            out_headers.append(
                axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                axum::http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
            );
        }
    }
    Some((status, out_headers, answer.bytes().await.unwrap_or_default()))
}

async fn proxy(State(state): State<Arc<Mutex<ProxyState>>>, req: Request) -> Response {
    let upstream = state.lock().unwrap().upstream.clone();
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let Some((status, out_headers, mut bytes)) = forward(&upstream, req).await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    if path.starts_with("/.well-known/openid-configuration") {
        let tamper = state.lock().unwrap().tamper.clone();
        if let (Tamper::DiscoveryEndpoint(field, url), Ok(mut doc)) = (tamper, serde_json::from_slice::<Value>(&bytes))
        {
            doc[field] = Value::String(url);
            bytes = Bytes::from(serde_json::to_vec(&doc).unwrap());
        }
    }
    if path.starts_with("/token") && status.is_success() {
        let tamper = std::mem::take(&mut state.lock().unwrap().tamper);
        if let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) {
            if let Some(id) = json["id_token"].as_str().map(str::to_owned) {
                state.lock().unwrap().last_id_token = Some(id.clone());
                match tamper {
                    Tamper::None => {}
                    Tamper::FlipSignature => {
                        let mut parts: Vec<String> = id.split('.').map(str::to_owned).collect();
                        let mut sig = parts[2].clone().into_bytes();
                        sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
                        parts[2] = String::from_utf8(sig).unwrap();
                        json["id_token"] = Value::String(parts.join("."));
                    }
                    Tamper::SwapIdToken(other) => json["id_token"] = Value::String(other),
                    Tamper::Delay(d) => tokio::time::sleep(d).await,
                    Tamper::DiscoveryEndpoint(..) => {}
                }
                bytes = Bytes::from(serde_json::to_vec(&json).unwrap());
            }
        }
    }
    (status, out_headers, Body::from(bytes)).into_response()
}

impl OpenIdProvider {
    /// Starts the provider with these clients (`[{client_id, client_secret, redirect_uris,
    /// post_logout_redirect_uris}]`) and accounts (`{sub: {email, email_verified, given_name, ...}}`).
    pub async fn start(clients: Value, accounts: Value, id_token_ttl: u64) -> std::io::Result<Self> {
        Self::start_on(0, clients, accounts, id_token_ttl).await
    }

    /// As [`Self::start`], with the issuer on `port` (0: any free port).
    pub async fn start_on(port: u16, clients: Value, accounts: Value, id_token_ttl: u64) -> std::io::Result<Self> {
        Self::start_as(port, None, clients, accounts, id_token_ttl).await
    }

    /// As [`Self::start_on`], naming itself `issuer` when given (an org whose own origin serves the
    /// provider's endpoints through a [`forward`]; `make dev`'s Okta simulator), else its own address.
    pub async fn start_as(
        port: u16,
        issuer: Option<String>,
        clients: Value,
        accounts: Value,
        id_token_ttl: u64,
    ) -> std::io::Result<Self> {
        if !provider_dir().join("node_modules/oidc-provider").exists() {
            return Err(std::io::Error::other(
                "tests/oidc-provider/node_modules is missing: `make test` installs it (npm ci --prefix tests/oidc-provider)",
            ));
        }
        let front = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let front_url = format!("http://{}", front.local_addr()?);
        let issuer = issuer.unwrap_or_else(|| front_url.clone());
        let config = (clients, accounts, id_token_ttl);
        let (node, upstream) = Self::spawn_node(&issuer, &config).await?;
        let state = Arc::new(Mutex::new(ProxyState { upstream, ..ProxyState::default() }));
        let app = Router::new().fallback(proxy).with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(front, app).await;
        });
        Ok(Self { issuer, front: front_url, state, node, config })
    }

    /// Starts node on a free port; again (three tries) when it exits before it is ready: the port
    /// picked here can be taken by another process before node binds it.
    async fn spawn_node(
        issuer: &str,
        config: &(Value, Value, u64),
    ) -> std::io::Result<(tokio::process::Child, String)> {
        let mut last = None;
        for _ in 0..3 {
            match Self::spawn_node_once(issuer, config).await {
                Ok(started) => return Ok(started),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the OpenID provider did not start")))
    }

    async fn spawn_node_once(
        issuer: &str,
        config: &(Value, Value, u64),
    ) -> std::io::Result<(tokio::process::Child, String)> {
        let back_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let mut node = tokio::process::Command::new("node")
            .arg("server.js")
            .current_dir(provider_dir())
            .env("PORT", back_port.to_string())
            .env("ISSUER", issuer)
            .env("CLIENTS", config.0.to_string())
            .env("ACCOUNTS", config.1.to_string())
            .env("ID_TOKEN_TTL", config.2.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
        // Generous: on a 2-core machine running the whole suite, node can take a while to start.
        let ready = tokio::time::timeout(Duration::from_secs(90), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("ready") {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if !ready {
            return Err(std::io::Error::other("the OpenID provider did not start"));
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok((node, format!("http://127.0.0.1:{back_port}")))
    }

    /// Restarts the provider at the same issuer with a new signing key (a key rotation): ID
    /// tokens now carry a `kid` the old JWKS does not have.
    pub async fn rotate_keys(&mut self) -> std::io::Result<()> {
        let (node, upstream) = Self::spawn_node(&self.issuer, &self.config).await?;
        let _ = self.node.kill().await;
        self.node = node;
        self.state.lock().unwrap().upstream = upstream;
        Ok(())
    }

    /// The next token-endpoint answer is tampered with.
    pub fn tamper(&self, t: Tamper) {
        self.state.lock().unwrap().tamper = t;
    }

    /// The ID token of the last token-endpoint answer (before any tampering).
    pub fn last_id_token(&self) -> Option<String> {
        self.state.lock().unwrap().last_id_token.clone()
    }
}

/// A headless browser: redirects followed by hand, the provider's login form filled. Each sign-in
/// is a fresh browser profile (its own cookie jar), so one person's provider session never
/// signs in the next.
pub struct Browser {
    http: reqwest::Client,
}

fn fresh_profile() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self { http }
    }

    /// Follows `url` through the provider, signing in as `login`, until a redirect leaves for
    /// `stop_prefix` (the app's callback); returns that URL.
    pub async fn sign_in(&self, url: &str, login: &str, stop_prefix: &str) -> String {
        let http = fresh_profile();
        let mut next = url.to_owned();
        for _ in 0..12 {
            let r = http.get(&next).send().await.expect("provider answers");
            let here = r.url().clone();
            if r.status().is_redirection() {
                let loc = r.headers()["location"].to_str().unwrap().to_owned();
                let abs = here.join(&loc).unwrap().to_string();
                if abs.starts_with(stop_prefix) {
                    return abs;
                }
                next = abs;
                continue;
            }
            let html = r.text().await.unwrap();
            let action = html
                .split("action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("no login form at {here}: {html}"))
                .to_owned();
            let form = [("prompt", "login"), ("login", login), ("password", "any")];
            let posted = http.post(here.join(&action).unwrap()).form(&form).send().await.unwrap();
            let loc = posted.headers().get("location").expect("the login form redirects").to_str().unwrap();
            let abs = here.join(loc).unwrap().to_string();
            if abs.starts_with(stop_prefix) {
                return abs;
            }
            next = abs;
        }
        panic!("sign-in did not come back to {stop_prefix}");
    }

    /// The test's own client at the provider: a full code flow for `client_id`, returning the ID
    /// token (to substitute into another flow).
    #[allow(clippy::too_many_arguments)]
    pub async fn id_token_for(
        &self,
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        nonce: &str,
        login: &str,
    ) -> String {
        let verifier = "test-verifier-0123456789012345678901234567890123456789";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let mut auth = reqwest::Url::parse(&format!("{issuer}/auth")).unwrap();
        auth.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email profile")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", "teststate")
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let back = self.sign_in(auth.as_str(), login, redirect_uri).await;
        let code = reqwest::Url::parse(&back)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code");
        let token: Value = self
            .http
            .post(format!("{issuer}/token"))
            .basic_auth(client_id, Some(client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["id_token"].as_str().unwrap_or_else(|| panic!("no ID token: {token}")).to_owned()
    }
}
