//! A lean HTTP/1.1 load generator for the benchmarks: keep-alive connections driven from one
//! thread, each sending one prebuilt request and reading its whole answer before the next.
//! On this two-core machine the load generator's CPU is taken from the server it measures; a
//! general client (reqwest on a multi-threaded runtime) spent tens of microseconds a request,
//! this spends a few, so the figures say more about the server and less about the client.
//! Its framing is tested in the suite (`tests/suite/bench_load.rs`, which includes this file).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request serialized once and sent as is, every time.
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// `{method} {path}` with the given extra headers and, when there is one, a body of the
    /// given content type.
    pub fn new(
        method: &str,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> Self {
        let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
        if let Some((content_type, body)) = body {
            text.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        if let Some((_, body)) = body {
            text.push_str(body);
        }
        Request {
            bytes: text.into_bytes(),
        }
    }

    /// `POST {path}` with a form body and the given extra headers.
    pub fn post_form(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> Self {
        Request::new(
            "POST",
            addr,
            path,
            headers,
            Some(("application/x-www-form-urlencoded", body)),
        )
    }
}

/// An answer: its status and body (chunked bodies are reassembled).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Where `needle` first occurs in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// How the body of an answer is delimited (RFC 9112 §6.3).
enum Framing {
    Length(usize),
    Chunked,
}

fn head(head: &[u8]) -> anyhow::Result<(u16, Framing)> {
    let text = std::str::from_utf8(head).context("the answer's head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut framing = Framing::Length(0);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            framing = Framing::Length(value.parse().context("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            framing = Framing::Chunked;
        }
    }
    Ok((status, framing))
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Reads more bytes into the buffer; an early close is an error.
    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection mid-answer");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Makes sure the buffer holds at least `n` bytes.
    async fn want(&mut self, n: usize) -> anyhow::Result<()> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(())
    }

    /// Sends `request` and reads its answer.
    pub async fn send(&mut self, request: &Request) -> anyhow::Result<Response> {
        self.stream.write_all(&request.bytes).await?;
        let end = loop {
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let (status, framing) = head(&self.buf[..end])?;
        self.buf.drain(..end + 4);
        let body = match framing {
            Framing::Length(len) => {
                self.want(len).await?;
                self.buf.drain(..len).collect()
            }
            Framing::Chunked => {
                let mut body = Vec::new();
                loop {
                    let line_end = loop {
                        if let Some(at) = find(&self.buf, b"\r\n") {
                            break at;
                        }
                        self.fill().await?;
                    };
                    let size_text = std::str::from_utf8(&self.buf[..line_end])?;
                    let size_text = size_text.split(';').next().unwrap_or_default().trim();
                    let size = usize::from_str_radix(size_text, 16).context("bad chunk size")?;
                    self.buf.drain(..line_end + 2);
                    self.want(size + 2).await?;
                    body.extend(self.buf.drain(..size));
                    self.buf.drain(..2);
                    if size == 0 {
                        break body;
                    }
                }
            }
        };
        Ok(Response { status, body })
    }
}

/// Completed requests, how long they took altogether and one by one, and the answers that
/// failed their check (or never came), one message each.
pub struct Run {
    pub done: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub errors: Vec<String>,
}

impl Run {
    /// The run of these requests' latencies, in any order, taking `elapsed` altogether.
    pub fn new(mut latencies: Vec<Duration>, elapsed: Duration) -> Run {
        latencies.sort();
        Run {
            done: latencies.len(),
            elapsed,
            latencies,
            errors: Vec::new(),
        }
    }

    pub fn per_sec(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Runs taken one after another, as one: their requests and their times added up.
    pub fn merge(runs: Vec<Run>) -> Run {
        let latencies = runs
            .iter()
            .flat_map(|r| r.latencies.iter().copied())
            .collect();
        let mut merged = Run::new(latencies, runs.iter().map(|r| r.elapsed).sum());
        merged.errors = runs.into_iter().flat_map(|r| r.errors).collect();
        merged
    }
}

/// What a failed answer does to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The run stops with that error.
    Stop,
    /// The error is counted in `Run::errors` and the run goes on (on a new connection when the
    /// old one broke).
    Count,
}

/// Sends `request` over `concurrency` connections until `duration` has passed or `max` requests
/// started; every answer must pass `check`. Runs on a thread of its own with a single-threaded
/// runtime, so the load generator never takes more than one core.
pub fn hammer(
    addr: SocketAddr,
    request: Request,
    concurrency: usize,
    duration: Duration,
    max: usize,
    check: fn(&Response) -> anyhow::Result<()>,
) -> anyhow::Result<Run> {
    drive(
        addr,
        vec![request],
        concurrency,
        Some(duration),
        max,
        check,
        OnError::Stop,
    )
}

/// Sends each of `requests` once, in order, over `concurrency` connections; answers that fail
/// `check` are counted, not fatal, so a peer's wrong answers show up as a figure.
pub fn hammer_each(
    addr: SocketAddr,
    requests: Vec<Request>,
    concurrency: usize,
    check: fn(&Response) -> anyhow::Result<()>,
) -> anyhow::Result<Run> {
    let max = requests.len();
    drive(
        addr,
        requests,
        concurrency,
        None,
        max,
        check,
        OnError::Count,
    )
}

/// The load loop under `hammer` and `hammer_each`: request `i` is `requests[i % len]`.
fn drive(
    addr: SocketAddr,
    requests: Vec<Request>,
    concurrency: usize,
    duration: Option<Duration>,
    max: usize,
    check: fn(&Response) -> anyhow::Result<()>,
    on_error: OnError,
) -> anyhow::Result<Run> {
    if requests.is_empty() {
        bail!("no requests to send");
    }
    let worker = std::thread::spawn(move || -> anyhow::Result<Run> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let requests = Arc::new(requests);
            let mut connections = Vec::with_capacity(concurrency);
            for _ in 0..concurrency {
                connections.push(Connection::open(addr).await?);
            }
            let next = Arc::new(AtomicUsize::new(0));
            let started = Instant::now();
            let deadline = duration.map(|d| started + d);
            let mut tasks = tokio::task::JoinSet::new();
            for mut connection in connections {
                let (next, requests) = (next.clone(), requests.clone());
                tasks.spawn(async move {
                    let (mut latencies, mut errors) = (Vec::new(), Vec::new());
                    while deadline.is_none_or(|d| Instant::now() < d) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= max {
                            break;
                        }
                        let t = Instant::now();
                        let outcome = match connection.send(&requests[i % requests.len()]).await {
                            Ok(response) => check(&response),
                            Err(broken) if on_error == OnError::Count => {
                                connection = Connection::open(addr).await?;
                                Err(broken)
                            }
                            Err(broken) => Err(broken),
                        };
                        match outcome {
                            Ok(()) => latencies.push(t.elapsed()),
                            Err(e) if on_error == OnError::Count => errors.push(format!("{e:#}")),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok::<_, anyhow::Error>((latencies, errors))
                });
            }
            let (mut latencies, mut errors) = (Vec::new(), Vec::new());
            while let Some(joined) = tasks.join_next().await {
                let (l, e) = joined??;
                latencies.extend(l);
                errors.extend(e);
            }
            let mut run = Run::new(latencies, started.elapsed());
            run.errors = errors;
            Ok(run)
        })
    });
    worker
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the load generator's thread panicked")))
}
