//! moto_server: the emulator of DynamoDB, SQS and S3 the twin points everything at.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::TwinError;
use crate::process::die_with_parent;

pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts moto's server with `python` (the venv's) through `launcher`
    /// (`infra/local/moto_serial.py`) on loopback, and waits until it answers.
    pub async fn start(
        python: &Path,
        launcher: &Path,
        port: u16,
        log: Stdio,
    ) -> Result<Moto, TwinError> {
        let mut command = Command::new(python);
        command
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        die_with_parent(&mut command);
        let child = command.spawn().map_err(|e| {
            TwinError::Moto(format!(
                "cannot start {} ({e}); run `make setup` to install the pinned moto",
                python.display()
            ))
        })?;
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(moto);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(TwinError::Moto(format!(
            "moto_server did not listen on port {port} within 30 s"
        )))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
