//! `cargo xtask dist`: static binaries of `echo-conform`, `echo-server` and `echo-load`, a
//! checksum file and a tarball in `target/dist/` (whose `LATEST` names the directory just
//! written), then a check that the runner works from a directory with no toolchain on PATH.
//!
//! musl is used when the toolchain has the target installed. Otherwise (these machines reach
//! only the package registries, so no rustup target can be added) the host's glibc target is
//! linked with `+crt-static`. A static glibc cannot load NSS modules from another glibc version;
//! the kit avoids NSS for its look-ups (`echo-accounts` reads /etc/passwd and /etc/group
//! first). What still needs the host's NSS is listed in `docs/ci.md`.

use crate::LOCK_ENV;
use anyhow::{bail, ensure, Context};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The binaries a distribution holds, with the package of each.
const BINARIES: [(&str, &str); 3] = [
    ("echo-conform", "echo-conform"),
    ("echo-server", "echo-servers"),
    ("echo-load", "echo-clients"),
];

/// Builds, checksums, packs and checks the distribution; returns its directory.
pub fn run(sh: &xshell::Shell) -> anyhow::Result<PathBuf> {
    let (target, built) = build(sh)?;
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("echo-conform-{version}-{target}");
    let dist = crate::target_dir().join("dist").join(&name);
    if dist.exists() {
        std::fs::remove_dir_all(&dist)?;
    }
    std::fs::create_dir_all(&dist)?;
    let mut sums = String::new();
    for (bin, _) in BINARIES {
        let to = dist.join(bin);
        std::fs::copy(built.join(bin), &to).with_context(|| format!("copying {bin}"))?;
        check_static(sh, &to)?;
        let digest = Sha256::digest(std::fs::read(&to)?);
        sums.push_str(&format!("{}  {bin}\n", hex(&digest)));
    }
    std::fs::write(dist.join("SHA256SUMS"), &sums)?;
    let parent = dist.parent().context("dist has a parent")?;
    let tarball = format!("{name}.tar.gz");
    xshell::cmd!(sh, "tar -C {parent} -czf {parent}/{tarball} {name}").run()?;
    let digest = Sha256::digest(std::fs::read(parent.join(&tarball))?);
    std::fs::write(
        parent.join(format!("{tarball}.sha256")),
        format!("{}  {tarball}\n", hex(&digest)),
    )?;
    // Scripts (`action/run.sh`, `.ci/action-check`) read which directory this run wrote.
    std::fs::write(parent.join("LATEST"), format!("{}\n", dist.display()))?;
    println!("dist: {} ({target})", dist.display());
    print!("{sums}");
    smoke(&dist)?;
    Ok(dist)
}

/// Builds the static binaries only (`cargo xtask dist --build-only`) and returns the target
/// triple and the directory holding them.
///
/// The build has a target directory of its own, `target/dist-build/`, so that its cargo lock is
/// its own too: CI starts it at low priority beside the test steps, which then never wait on it.
pub fn build(sh: &xshell::Shell) -> anyhow::Result<(String, PathBuf)> {
    let host = host_triple(sh)?;
    let musl = host.replace("-gnu", "-musl");
    let target = if target_installed(sh, &musl)? {
        musl
    } else {
        host
    };
    let dir = crate::target_dir().join("dist-build");
    let mut cmd = xshell::cmd!(sh, "cargo build --release --locked --target {target}");
    for (bin, package) in BINARIES {
        cmd = cmd.args(["-p", package, "--bin", bin]);
    }
    // With `--target`, RUSTFLAGS reach only the target's code, not build scripts or proc macros.
    // The binaries are stripped of debug info, so none is generated (the release profile keeps
    // line tables for `perf` in the bench).
    cmd.env(
        "RUSTFLAGS",
        "-C target-feature=+crt-static -C strip=debuginfo",
    )
    .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
    .env("CARGO_TARGET_DIR", &dir)
    .run()?;
    let built = dir.join(&target).join("release");
    Ok((target, built))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn host_triple(sh: &xshell::Shell) -> anyhow::Result<String> {
    let info = xshell::cmd!(sh, "rustc -vV").read()?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("`rustc -vV` names no host")
}

/// True when the toolchain's sysroot has the standard library for `target`.
fn target_installed(sh: &xshell::Shell, target: &str) -> anyhow::Result<bool> {
    let sysroot = xshell::cmd!(sh, "rustc --print sysroot").read()?;
    Ok(Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir())
}

/// Fails unless `ldd` calls `bin` static.
fn check_static(sh: &xshell::Shell, bin: &Path) -> anyhow::Result<()> {
    let out = xshell::cmd!(sh, "ldd {bin}")
        .ignore_status()
        .quiet()
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        text.contains("not a dynamic executable") || text.contains("statically linked"),
        "{} is not static; ldd says:\n{text}",
        bin.display()
    );
    println!("dist: {}: ldd: {}", bin.display(), text.trim());
    Ok(())
}

/// Runs the default spec against the tokio model with the built binaries, from an empty
/// directory, with PATH holding only that directory: no cargo, no rustc, no shell.
fn smoke(dist: &Path) -> anyhow::Result<()> {
    let empty = std::env::temp_dir().join(format!("echo-conform-dist-{}", std::process::id()));
    std::fs::create_dir_all(&empty)?;
    let server = dist.join("echo-server");
    let mut cmd = std::process::Command::new(dist.join("echo-conform"));
    cmd.current_dir(&empty).env_clear().env("PATH", &empty);
    // Under a machine lock (CI packs the distribution beside `cargo xtask conform`), share it.
    if let Some(lock) = std::env::var_os(LOCK_ENV) {
        cmd.env(LOCK_ENV, lock);
    }
    let out = cmd
        .args([
            "run",
            "--cmd",
            &format!("{} --model tokio --port {{port}}", server.display()),
            "--claims",
            "stream,forever,concurrent,identity,unprivileged,c10k",
            "--family",
            "4",
        ])
        .output()
        .context("running the static echo-conform")?;
    std::fs::remove_dir_all(&empty).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "the static echo-conform against the tokio model exited {:?}:\n{text}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    println!(
        "dist: from an empty directory with PATH={}: {last}",
        empty.display()
    );
    Ok(())
}
