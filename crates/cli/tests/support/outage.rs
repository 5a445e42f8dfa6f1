//! Components a test may break: a `redis-server` of its own on a free port (stopped and
//! started again on the same port), and a PostgreSQL database of its own in the shared
//! server that it can make unreachable (`ALLOW_CONNECTIONS false` and its sessions
//! terminated) and reachable again. Nothing shared is stopped; both are removed when
//! their guards drop, also when the test panics.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn required() -> bool {
    std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_some()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private Redis, killed when dropped.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: TempDir,
}

impl Redis {
    /// A new Redis on a free port; `None` (one skipped line) when `redis-server` is not
    /// installed and services are not required.
    pub fn start(test: &str) -> Option<Redis> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            assert!(
                !required(),
                "redis-server required (PROMPTOPS_REQUIRE_SERVICES is set)"
            );
            eprintln!("skipped {test}: redis-server is not installed");
            return None;
        }
        let mut redis = Redis {
            child: None,
            port: free_port(),
            dir: TempDir::new().unwrap(),
        };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port and waits until it answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL: no goodbye to the clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A database of this test's in the shared PostgreSQL server, dropped with the guard.
pub struct Database {
    admin_url: String,
    pub name: String,
}

impl Database {
    /// A new empty database; `None` (one skipped line) when PostgreSQL is unreachable and
    /// services are not required.
    pub fn create(test: &str) -> Option<Database> {
        let admin_url = std::env::var("PROMPTOPS_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "po_outage_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let db = Database { admin_url, name };
        if let Err(e) = db.sql(&format!("CREATE DATABASE {}", db.name)) {
            assert!(
                !required(),
                "PostgreSQL required (PROMPTOPS_REQUIRE_SERVICES is set): {e}"
            );
            eprintln!("skipped {test}: PostgreSQL is not reachable: {e}");
            return None;
        }
        Some(db)
    }

    /// The URL of this database.
    pub fn url(&self) -> String {
        let base = self
            .admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&self.admin_url);
        format!("{base}/{}", self.name)
    }

    /// Makes it unreachable: no new session, every open one terminated.
    pub fn cut(&self) {
        self.sql(&format!(
            "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
            self.name
        ))
        .expect("cut the database off");
    }

    pub fn restore(&self) {
        self.sql(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ))
        .expect("open the database again");
    }

    fn sql(&self, sql: &str) -> Result<(), String> {
        let o = Command::new("psql")
            .args([&self.admin_url, "-qAtc", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(e) = self.sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )) {
            eprintln!("note: could not drop database {}: {e}", self.name);
        }
    }
}
