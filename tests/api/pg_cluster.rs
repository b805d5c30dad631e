//! A throwaway PostgreSQL cluster of a test's own, on a free port, that the test can stop
//! and start again (the shared server at `MARQUEE_TEST_POSTGRES_URL` must not be touched).
//!
//! Needs the server binaries (`initdb`, `pg_ctl`, `postgres`): from `MARQUEE_TEST_PG_BIN`,
//! else the newest `/usr/lib/postgresql/*/bin` (Debian's layout), else `PATH`. PostgreSQL
//! refuses to run as root, so as root every command runs as the `postgres` OS user through
//! `runuser`, in a temporary directory handed to that user. The cluster is stopped
//! (`-m immediate`) and its directory removed on drop.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
};

use tokio::process::Command;

use crate::helpers::skip_unless_ci;

pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// `runuser`, to run the binaries as the `postgres` OS user (we are root).
    runuser: Option<PathBuf>,
    pub port: u16,
}

impl PgCluster {
    /// Creates (`initdb`) and starts a cluster on a free port; `None` (after
    /// `skip_unless_ci`) when the prerequisites are missing.
    pub async fn start_new() -> Option<Self> {
        let Some(bin) = find_bin() else {
            skip_unless_ci(
                "no PostgreSQL server binaries (initdb, pg_ctl, postgres): set \
                 MARQUEE_TEST_PG_BIN or install them (Debian: postgresql)",
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut runuser = None;
        if running_as_root() {
            let ids = match (os_id("-u").await, os_id("-g").await) {
                (Some(uid), Some(gid)) => (uid, gid),
                _ => {
                    skip_unless_ci("running as root and there is no `postgres` OS user");
                    return None;
                }
            };
            runuser = find_runuser();
            if runuser.is_none() {
                skip_unless_ci("running as root and `runuser` (util-linux) is missing");
                return None;
            }
            std::os::unix::fs::chown(dir.path(), Some(ids.0), Some(ids.1))
                .expect("hand the cluster directory to the postgres user");
        }
        let mut cluster = Self {
            bin,
            dir,
            runuser,
            port: 0,
        };
        let data = cluster.data_dir();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    data.to_str().expect("UTF-8 path"),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("initdb: {e}"));
        // A free port now may be taken by the time the server binds it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            match cluster.start().await {
                Ok(()) => return Some(cluster),
                Err(error) => last = error,
            }
        }
        panic!("the throwaway PostgreSQL cluster did not start: {last}");
    }

    /// The URL of `database` in this cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// `pg_ctl start`, waiting until it accepts connections; same port and data every time.
    pub async fn start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data_dir();
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-l",
                log.to_str().expect("UTF-8 path"),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .await
        .map_err(|e| format!("{e}\nserver log:\n{}", self.log_tail()))
    }

    /// `pg_ctl stop -m fast`: open sessions are terminated, the server shuts down cleanly.
    pub async fn stop_fast(&self) -> Result<(), String> {
        let data = self.data_dir();
        let data = data.to_str().expect("UTF-8 path");
        self.run(
            "pg_ctl",
            &["-D", data, "-m", "fast", "-w", "-t", "60", "stop"],
        )
        .await
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if let Some(runuser) = &self.runuser {
            let mut command = Command::new(runuser);
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.current_dir(self.dir.path()).kill_on_drop(true);
        command
    }

    async fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} {args:?} failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let program = self.bin.join("pg_ctl");
        let mut command = if let Some(runuser) = &self.runuser {
            let mut command = std::process::Command::new(runuser);
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        };
        let _ = command
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
fn find_bin() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Ok(dir) = std::env::var("MARQUEE_TEST_PG_BIN") {
        return complete(Path::new(&dir)).then(|| PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| complete(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).find(|dir| complete(dir))
}

fn running_as_root() -> bool {
    // The effective uid is the second number of the `Uid:` line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

fn find_runuser() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("runuser"))
        .find(|path| path.is_file())
}

/// `id -u postgres` / `id -g postgres`.
async fn os_id(flag: &str) -> Option<u32> {
    let output = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
