//! A tiny HTTP/1.1 server on loopback for the SAML metadata URL tests: it answers every request
//! with what it was last told to, and counts the connections it took. A bare [`Silent`]
//! listener accepts nothing, so whether anyone connected to it is a fact of the kernel's
//! backlog, read without waiting.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the server answers.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Announce the body's length (else the body ends when the connection closes).
    pub with_length: bool,
}

impl Answer {
    pub fn ok(body: impl Into<Vec<u8>>) -> Answer {
        Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/samlmetadata+xml".into())],
            body: body.into(),
            with_length: true,
        }
    }

    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            with_length: true,
        }
    }

    pub fn redirect(to: &str) -> Answer {
        let mut answer = Answer::status(302);
        answer.headers.push(("location".into(), to.into()));
        answer
    }
}

pub struct MetadataServer {
    pub addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    connections: Arc<AtomicUsize>,
}

impl MetadataServer {
    pub fn start(answer: Answer) -> MetadataServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(answer));
        let connections = Arc::new(AtomicUsize::new(0));
        let (shared, count) = (answer.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let answer = shared.lock().unwrap().clone();
                std::thread::spawn(move || respond(stream, &answer));
            }
        });
        MetadataServer {
            addr,
            answer,
            connections,
        }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `answer` from now on.
    pub fn serve(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn respond(mut stream: TcpStream, answer: &Answer) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let mut head = format!("HTTP/1.1 {} Answer\r\nconnection: close\r\n", answer.status);
    if answer.with_length {
        head.push_str(&format!("content-length: {}\r\n", answer.body.len()));
    }
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&answer.body);
}

/// A listener nobody is served by: [`Silent::was_reached`] tells whether a connection came.
pub struct Silent {
    listener: TcpListener,
}

impl Silent {
    pub fn bind() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).unwrap();
        Silent { listener }
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Whether a client connected: a connection the kernel completed waits in the backlog.
    pub fn was_reached(&self) -> bool {
        match self.listener.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("accept: {e}"),
        }
    }
}
