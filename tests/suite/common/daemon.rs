//! The real `vestibule serve` as a child process, on a free loopback port, ready when
//! `/health/ready` says so. Its log is kept (and drained, so it never blocks on a full pipe).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_vestibule");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a both_backends! body that drives a spawned daemon with blocking clients (reqwest's
/// blocking client must not run on the test's async runtime) on a thread of its own; its panic
/// is the test's.
pub async fn off_the_runtime<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(body)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

pub struct Daemon {
    pub child: Child,
    pub base: String,
    log: Arc<Mutex<String>>,
    /// Drains stderr into `log`; it ends when the process does.
    reader: Option<JoinHandle<()>>,
}

impl Daemon {
    /// Starts `vestibule [extra_args] serve --config <config>` on `db_url` with `env` set.
    pub fn spawn(config: &Path, db_url: &str, env: &[(&str, &str)], extra_args: &[&str]) -> Daemon {
        Self::spawn_on(free_port(), config, db_url, env, extra_args)
    }

    /// [`Self::spawn`] on `port`, chosen beforehand (with [`free_port`]) so that another
    /// party's config can name this daemon's URL, `http://127.0.0.1:{port}`, before it starts.
    pub fn spawn_on(
        port: u16,
        config: &Path,
        db_url: &str,
        env: &[(&str, &str)],
        extra_args: &[&str],
    ) -> Daemon {
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(BIN)
            .args(extra_args)
            .args(["serve", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .env("VESTIBULE_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("VESTIBULE_SERVER__PUBLIC_URL", &base)
            .env("VESTIBULE_DATABASE__URL", db_url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vestibule");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + super::START_WAIT;
        loop {
            if let Ok(resp) = http.get(format!("{base}/health/ready")).send() {
                if resp.status() == 200 {
                    break;
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "vestibule exited with {status}:\n{}",
                    log.lock().unwrap().clone()
                );
            }
            assert!(Instant::now() < deadline, "daemon did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon {
            child,
            base,
            log,
            reader: Some(reader),
        }
    }

    /// A client_credentials token request to realm `realm` as `client` with `secret`
    /// (client_secret_basic): the status and the answer (JSON null if there is none).
    pub fn client_credentials(&self, realm: &str, client: &str, secret: &str) -> (u16, Value) {
        let resp = reqwest::blocking::Client::new()
            .post(format!(
                "{}/realms/{realm}/protocol/openid-connect/token",
                self.base
            ))
            .basic_auth(client, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .expect("token request");
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(Value::Null))
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, and the exit status once the process has drained and exited; by then `log()`
    /// holds every line it wrote.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "SIGTERM did not stop the daemon");
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        exit
    }

    /// SIGKILL, no goodbye: what durability is measured against.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
