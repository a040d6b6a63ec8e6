//! `make dev` stops cleanly: Ctrl-C ends the twin, moto_server and every function process,
//! and nothing is left listening.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Direct children of `pid`, from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // Fields after the ")" that ends the command name: state, ppid, ...
        let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        if after
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
            == Some(pid)
        {
            found.push(child);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

#[test]
fn ctrl_c_stops_everything_the_twin_started() {
    let root = workspace();
    let state = root
        .join(".local")
        .join(format!("ctrl-c-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let _ = std::fs::copy(
        root.join(".local/jwt-signing-key.pem"),
        state.join("jwt-signing-key.pem"),
    );
    let log = std::fs::File::create(state.join("twin.log")).unwrap();
    let bins = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("debug");
    let mut twin = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("up")
        .current_dir(&root)
        .env("TWIN_BIN_DIR", &bins)
        .env("PORT", "0")
        .env("TWIN_CONTROL_PORT", "0")
        .env("TWIN_STATE_DIR", &state)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let state_file = state.join("twin.json");
    assert!(
        wait_until(Duration::from_secs(60), || state_file.exists()),
        "the twin did not come up:\n{}",
        std::fs::read_to_string(state.join("twin.log")).unwrap_or_default()
    );
    let running: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let api = port_of(running["api_url"].as_str().unwrap());
    let control = port_of(running["control_url"].as_str().unwrap());
    let moto = port_of(running["moto_endpoint"].as_str().unwrap());

    // One request, so a function process is running too.
    let mut stream = TcpStream::connect(("127.0.0.1", api)).unwrap();
    write!(
        stream,
        "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");

    let started: Vec<u32> = children(twin.id());
    assert!(
        started.len() >= 2,
        "moto_server and a function instance run: {started:?}"
    );

    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(twin.id() as i32, libc::SIGINT) }, 0);
    let mut exited = None;
    assert!(wait_until(Duration::from_secs(20), || {
        exited = twin.try_wait().unwrap();
        exited.is_some()
    }));
    assert!(
        exited.unwrap().success(),
        "the twin exits cleanly on Ctrl-C"
    );
    assert!(
        wait_until(Duration::from_secs(10), || started
            .iter()
            .all(|pid| !alive(*pid))),
        "every process it started is gone: {started:?}"
    );
    for port in [api, control, moto] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing listens on {port} any more"
        );
    }
    assert!(!state_file.exists(), "the state file is removed");
    let _ = std::fs::remove_dir_all(&state);
}
