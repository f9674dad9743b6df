//! What the CLI's tests run against: the real agent-id `App` (SQLite with the real migrations,
//! memory KV, the system clock) behind an in-process [`Transport`], and helpers to run the CLI
//! in process (`agent_id_cli::run`) or as the built binary.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use agent_id::app::{App, Handled};
use agent_id::clock::{OsEntropy, SystemClock};
use agent_id::config::Config;
use agent_id::http::{Body, Request};
use agent_id::store::memory::MemoryKv;
use agent_id::store::sqlite::SqliteDb;
use agent_id_cli::Environment;
use agent_id_client::{HttpRequest, HttpResponse, Transport, TransportError};
use serde_json::Value;

/// The issuer of the in-process server; the CLI is pointed at it with `--server`.
pub const SERVER: &str = "https://id.example.test";

/// Hands each request to the App, as workerd would, and runs its deferred work afterwards.
pub struct InProcess {
    pub app: App,
    /// `(method, path)` of every request, to see what the CLI sent (e.g. a nonce retry).
    pub seen: RefCell<Vec<(String, String)>>,
}

impl InProcess {
    /// The App with the settings of the native integration tests plus `extra`.
    pub fn new(extra: &[(&str, &str)]) -> Rc<Self> {
        let mut vars: HashMap<String, String> = [
            ("PUBLIC_BASE_URL", SERVER),
            (
                "OAUTH_SIGNING_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
            ),
            ("BCRYPT_COST", "4"),
            (
                "SHADOW_SECRET",
                "test-shadow-secret-for-native-tests-only-0123",
            ),
            (
                "PADDLE_WEBHOOK_SECRET",
                "pdl_ntfset_01test_secret_for_vectors_only",
            ),
            ("PADDLE_API_KEY", "pdl_sdbx_apikey_test"),
            ("PADDLE_CLIENT_TOKEN", "test_client_token"),
            ("PADDLE_PRICE_ID_BASIC", "pri_01basic000000000000000000"),
            ("PADDLE_PRICE_ID_PRO", "pri_01pro00000000000000000000"),
            ("PADDLE_PRICE_ID_PREMIUM", "pri_01premium0000000000000000"),
            ("PADDLE_PRICE_ID_SHADOW", "pri_01shadow00000000000000000"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let clock = Rc::new(SystemClock);
        let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let db = Rc::new(SqliteDb::in_memory(&migrations).expect("migrations apply"));
        let kv = Rc::new(MemoryKv::new(clock.clone()));
        let app = App::new(Config::load(&vars), clock, Rc::new(OsEntropy), db, kv);
        Rc::new(Self {
            app,
            seen: RefCell::default(),
        })
    }

    /// Sends one request straight to the App (for the test's own calls).
    pub fn send(&self, request: HttpRequest) -> HttpResponse {
        futures_executor::block_on(Transport::send(self, request)).expect("in-process send")
    }
}

#[async_trait::async_trait(?Send)]
impl Transport for InProcess {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let uri = parts.uri;
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or("")
        );
        assert_eq!(origin, SERVER, "the CLI sent a request to another origin");
        self.seen
            .borrow_mut()
            .push((parts.method.to_string(), uri.path().to_owned()));
        let req = Request {
            method: parts.method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: parts.headers,
            body: Body::Bytes(body),
            origin,
        };
        let handled = self.app.handle(req).await;
        self.app.run_deferred().await;
        match handled {
            Handled::Response(response) => Ok(response),
            Handled::Asset(_) => Err(TransportError::new("the App answered with a static asset")),
        }
    }
}

/// One CLI run's result.
#[derive(Debug)]
pub struct Run {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The one JSON object of a successful `--json` run.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        assert_eq!(self.stdout.lines().count(), 1, "one line of JSON: {self:?}");
        serde_json::from_str(&self.stdout).expect("stdout is JSON")
    }

    /// The `error` object of a failed `--json` run with exit code `code`.
    #[track_caller]
    pub fn error(&self, code: u8) -> Value {
        assert_eq!(self.code, code, "{self:?}");
        assert_eq!(self.stdout, "", "nothing on stdout when failing: {self:?}");
        let v: Value = serde_json::from_str(&self.stderr).expect("stderr is JSON");
        v["error"].clone()
    }
}

/// An agent's CLI against the in-process App, with its own state directory.
pub struct Agent {
    pub server: Rc<InProcess>,
    pub base: tempfile::TempDir,
}

impl Agent {
    pub fn new(server: &Rc<InProcess>) -> Self {
        Self {
            server: server.clone(),
            base: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The per-server state directory (`<base>/https_id.example.test`).
    pub fn dir(&self) -> PathBuf {
        self.base.path().join("https_id.example.test")
    }

    /// Runs `agent-id --server SERVER <args>` in process.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut argv = vec!["agent-id", "--server", SERVER];
        argv.extend_from_slice(args);
        let env = Environment {
            transport: Some(self.server.clone()),
            config_base: Some(self.base.path().to_owned()),
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = agent_id_cli::run(argv, env, &mut out, &mut err);
        Run {
            code,
            stdout: String::from_utf8(out).expect("utf-8 stdout"),
            stderr: String::from_utf8(err).expect("utf-8 stderr"),
        }
    }

    /// `--json <args>`, which must succeed.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Value {
        let mut argv = vec!["--json"];
        argv.extend_from_slice(args);
        self.run(&argv).json()
    }

    /// `--json <args>`.
    pub fn json(&self, args: &[&str]) -> Run {
        let mut argv = vec!["--json"];
        argv.extend_from_slice(args);
        self.run(&argv)
    }
}

/// The built binary with a clean environment: HOME and XDG_CONFIG_HOME under `home`, no
/// AGENT_ID_* variables.
pub fn binary(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agent-id"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"));
    cmd
}
