//! Running the tollgate binary from integration tests (`#[path]`-included): a private copy of
//! the binary, a command with a clean environment, and JSON output parsing with the command's
//! stderr in the failure message.

#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A private copy of the binary, taken once: builds of other branches that share the target
/// directory may replace `target/debug/tollgate` while these tests run.
pub fn binary() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        // A hard link keeps this build's file even when cargo links a new one in its place.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tollgate-bin");
        std::fs::create_dir_all(&dir).expect("bin dir");
        // Links left by earlier runs would keep old 250 MB builds alive.
        for old in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let stale = old
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|e| e.as_secs() > 3600));
            if stale {
                let _ = std::fs::remove_file(old.path());
            }
        }
        let bin = dir.join(format!("tollgate-{}", std::process::id()));
        let _ = std::fs::remove_file(&bin);
        if std::fs::hard_link(env!("CARGO_BIN_EXE_tollgate"), &bin).is_err() {
            std::fs::copy(env!("CARGO_BIN_EXE_tollgate"), &bin).expect("copy the binary");
        }
        let help = std::process::Command::new(&bin)
            .arg("--help")
            .output()
            .expect("binary runs");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("keygen"),
            "target/debug/tollgate was replaced by a build of another branch; rerun the tests"
        );
        bin
    })
}

/// The binary with a clean environment (PATH only, no colour), run in `dir`.
pub fn tollgate(dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1");
    cmd
}

/// Runs the binary in `dir`: (exit code, stdout, stderr).
pub fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = tollgate(dir).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The JSON document a command printed on stdout; the failure message carries its output.
pub fn json_stdout(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
