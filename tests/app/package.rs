//! The installed package, as a user gets it: `scripts/package.sh` bundles
//! the debug app this test run built into a `.deb` with Tauri's bundler,
//! `apt-get` installs it, and the test checks what the package put on the
//! machine (the binary in /usr/bin, the desktop entry, an icon at every
//! hicolor size, dependencies that cover every library the binary links),
//! runs `switchboard --version` and `--help`, opens the installed binary's
//! window through tauri-driver in demo mode and sees it painted, then purges
//! the package and checks that nothing of it is left but the user's data.
//!
//! It installs and removes a system package, so it is ignored by a plain
//! `cargo test` (a developer's machine is not changed behind their back);
//! `scripts/test.sh`, which CI runs as root, runs it on its own with
//! `--ignored`. It needs root and refuses to touch an already installed
//! `switchboard` package: without root, or with one installed, it fails and
//! says why.

use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use switchboard_tests::webdriver::{PATIENCE, start_driver};

const PACKAGE: &str = "switchboard";
const INSTALLED: &str = "/usr/bin/switchboard";
/// Every size the hicolor icon theme has a directory for up to 512 pixels.
const ICON_SIZES: [u32; 8] = [16, 24, 32, 48, 64, 128, 256, 512];
/// Loaded with dlopen by the tray icon, so no linker table names it: the
/// package must declare it all the same (Tauri's bundler does, finding it
/// through pkg-config).
const TRAY_LIBRARY_PACKAGE: &str = "libayatana-appindicator3-1";

/// Runs a command to its end, or stops it (with everything it started) when
/// it takes longer than `limit`: a stuck apt lock or bundler must fail the
/// test, never hang CI.
fn run(what: &str, cmd: &mut Command, limit: Duration) -> Output {
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|err| panic!("{what}: cannot start {cmd:?}: {err}"));
    let group = format!("-{}", child.id());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(limit) else {
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        panic!("{what} took longer than {limit:?} and was stopped: {cmd:?}");
    };
    let output = output.unwrap_or_else(|err| panic!("{what}: {err}"));
    eprintln!("package: {what}: {:.1} s", started.elapsed().as_secs_f64());
    output
}

/// Like `run`, and the command must succeed; returns its stdout.
fn run_ok(what: &str, cmd: &mut Command, limit: Duration) -> String {
    let output = run(what, cmd, limit);
    assert!(
        output.status.success(),
        "{what} failed ({}): {cmd:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Whether dpkg has the package installed (not merely known or half-removed).
fn is_installed() -> bool {
    let output =
        run("dpkg-query", Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]), Duration::from_secs(30));
    String::from_utf8_lossy(&output.stdout).contains("install ok installed")
}

fn apt_get(args: &[&str]) -> Command {
    let mut cmd = Command::new("apt-get");
    // Wait for another apt or dpkg to finish rather than fail at once; `run`'s limit still applies.
    cmd.args(["-y", "-q", "-o", "DPkg::Lock::Timeout=120"]).args(args).env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// Purges the package when the test ends early, so a failed assertion does
/// not leave it installed on the machine.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if std::thread::panicking() && is_installed() {
            let _ = run("purge after a failure", &mut apt_get(&["purge", PACKAGE]), Duration::from_secs(300));
        }
    }
}

/// The package that owns a file, by dpkg's database. Debian lists some
/// libraries under /lib and others under /usr/lib (merged /usr), and the
/// loader may name either, or a symlink: every spelling is tried.
fn owner_of(path: &Path) -> Option<String> {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut candidates = Vec::new();
    for p in [path.to_path_buf(), canonical] {
        let s = p.to_string_lossy().into_owned();
        if let Some(rest) = s.strip_prefix("/usr/lib/") {
            candidates.push(format!("/lib/{rest}"));
        } else if let Some(rest) = s.strip_prefix("/lib/") {
            candidates.push(format!("/usr/lib/{rest}"));
        }
        candidates.push(s);
    }
    candidates.iter().find_map(|candidate| {
        let output = Command::new("dpkg").args(["-S", candidate]).output().ok()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        // "libdbus-1-3:amd64: /lib/x86_64-linux-gnu/libdbus-1.so.3"; diversion lines have no owner.
        let line = stdout.lines().find(|l| !l.starts_with("diversion by"))?;
        let package = line.split(": ").next()?;
        Some(package.split(':').next()?.to_owned())
    })
}

/// The libraries the binary's linker table names, each with the file the
/// loader picks for it.
fn linked_libraries(binary: &str) -> Vec<(String, PathBuf)> {
    let needed: Vec<String> =
        run_ok("objdump -p", Command::new("objdump").args(["-p", binary]), Duration::from_secs(60))
            .lines()
            .filter_map(|l| l.trim().strip_prefix("NEEDED"))
            .map(|name| name.trim().to_owned())
            .collect();
    assert!(!needed.is_empty(), "{binary} links no libraries at all?");
    let ldd = run_ok("ldd", Command::new("ldd").arg(binary), Duration::from_secs(60));
    needed
        .into_iter()
        .map(|name| {
            let path = ldd
                .lines()
                .find_map(|l| {
                    let (left, right) = l.trim().split_once(" => ")?;
                    (left == name).then(|| right.split(" (").next().unwrap().trim().to_owned())
                })
                .or_else(|| {
                    // The loader itself is printed by its path, without "=>".
                    ldd.lines()
                        .map(str::trim)
                        .find(|l| l.starts_with('/') && l.contains(&name))
                        .map(|l| l.split(' ').next().unwrap().to_owned())
                })
                .unwrap_or_else(|| panic!("ldd does not resolve {name} for {binary}:\n{ldd}"));
            assert!(!path.contains("not found"), "{name} is not found on this machine:\n{ldd}");
            (name, PathBuf::from(path))
        })
        .collect()
}

/// "2.34" → [2, 34], for comparing versions of glibc.
fn version_parts(version: &str) -> Vec<u32> {
    version.split('.').map(|p| p.parse().unwrap_or_else(|_| panic!("a version number: {version}"))).collect()
}

/// The package's dependencies, by name, and the least libc6 it asks for.
fn declared_depends() -> (BTreeSet<String>, Option<String>) {
    let depends = run_ok(
        "dpkg-query Depends",
        Command::new("dpkg-query").args(["-W", "-f=${Depends}", PACKAGE]),
        Duration::from_secs(30),
    );
    let mut names = BTreeSet::new();
    let mut libc = None;
    for item in depends.split(',').flat_map(|d| d.split('|')) {
        let item = item.trim();
        let name = item.split([' ', '(']).next().unwrap().to_owned();
        if name == "libc6" {
            libc = item.split_once(">=").map(|(_, v)| v.trim().trim_end_matches(')').trim().to_owned());
        }
        names.insert(name);
    }
    (names, libc)
}

/// The newest glibc symbol version the binary needs.
fn newest_glibc_needed(binary: &str) -> Vec<u32> {
    run_ok("objdump -T", Command::new("objdump").args(["-T", binary]), Duration::from_secs(60))
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(version_parts)
        .max()
        .expect("the binary needs some glibc symbols")
}

/// The PIDs of running processes whose program is `exe`.
fn processes_running(exe: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            (std::fs::read_link(entry.path().join("exe")).ok()? == Path::new(exe)).then_some(pid)
        })
        .collect()
}

/// Opens the installed binary's window in demo mode on `data_dir` and waits
/// for the panel to be painted; returns the window's screenshot.
async fn open_installed_window(data_dir: &Path) -> Vec<u8> {
    let driver = start_driver().await;
    let args = ["--demo", "--data-dir", data_dir.to_str().unwrap()];
    let client = driver.open(Path::new(INSTALLED), &args).await;
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("header.top"))
        .await
        .expect("the installed app's panel renders");
    let empty =
        client.wait().at_most(PATIENCE).for_element(Locator::Css(".empty")).await.expect("the empty list's text");
    let text = empty.prop("textContent").await.unwrap().unwrap_or_default();
    assert!(text.contains("No agents yet"), "the empty list says {text:?}");
    let label = client.find(Locator::Css(".demo-label")).await.expect("the DEMO label");
    assert_eq!(label.prop("textContent").await.unwrap().as_deref(), Some("DEMO"));
    assert!(
        !processes_running(INSTALLED).is_empty(),
        "the window is not the installed {INSTALLED}: no such process runs"
    );
    let png = client.screenshot().await.expect("a screenshot of the installed app's window");
    client.close().await.unwrap();
    png
}

#[test]
#[ignore = "installs and purges the switchboard package (needs root): scripts/test.sh runs it with --ignored"]
fn installed_package_runs_and_purges_to_nothing_but_the_users_data() {
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    assert!(root, "the installed-package test installs a .deb with apt-get: run it as root (CI does)");
    assert!(
        !is_installed(),
        "a {PACKAGE} package is already installed here; this test would replace and purge it. \
         Remove it first (apt-get purge {PACKAGE}) or run the test on another machine"
    );
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let work = tempfile::tempdir().unwrap();
    // apt reads the .deb as its unprivileged `_apt` user when it can.
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    // The debug app `cargo test` built for the window tests: the same code as
    // the `switchboard` binary (see its docs), so CI makes no second build.
    let app = env!("CARGO_BIN_EXE_switchboard-under-test");
    run_ok(
        "scripts/package.sh (the .deb of the debug app)",
        Command::new("bash")
            .arg(repo.join("scripts/package.sh"))
            .args(["--binary", app, "--bundles", "deb", "--out"])
            .arg(work.path()),
        Duration::from_secs(600),
    );
    let deb = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("scripts/package.sh made a .deb");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(deb.file_name().unwrap().to_str().unwrap(), format!("Switchboard_{version}_amd64.deb"));

    let guard = Installed;
    run_ok("apt-get install ./Switchboard.deb", apt_get(&["install"]).arg(&deb), Duration::from_secs(600));
    assert!(is_installed(), "apt-get said it installed {}, yet dpkg does not list {PACKAGE}", deb.display());
    let installed_version = run_ok(
        "dpkg-query Version",
        Command::new("dpkg-query").args(["-W", "-f=${Version}", PACKAGE]),
        Duration::from_secs(30),
    );
    assert_eq!(installed_version, version, "the package's version is the app's");

    // What the package put on the machine.
    let listed: Vec<PathBuf> = run_ok("dpkg -L", Command::new("dpkg").args(["-L", PACKAGE]), Duration::from_secs(30))
        .lines()
        .filter(|l| !l.is_empty() && *l != "/.")
        .map(PathBuf::from)
        .collect();
    let listed_set: HashSet<&Path> = listed.iter().map(PathBuf::as_path).collect();
    assert!(listed_set.contains(Path::new(INSTALLED)), "the package installs {INSTALLED}: {listed:?}");
    let mode = std::fs::metadata(INSTALLED).unwrap().mode();
    assert_eq!(mode & 0o755, 0o755, "{INSTALLED} is executable by everyone: {mode:o}");

    let desktop = Path::new("/usr/share/applications/Switchboard.desktop");
    assert!(listed_set.contains(desktop), "the package installs a desktop entry: {listed:?}");
    let entry = std::fs::read_to_string(desktop).unwrap();
    let lines: HashSet<&str> = entry.lines().map(str::trim).collect();
    for expected in ["[Desktop Entry]", "Type=Application", "Name=Switchboard", "Exec=switchboard", "Icon=switchboard"]
    {
        assert!(lines.contains(expected), "the desktop entry has {expected:?}:\n{entry}");
    }
    for size in ICON_SIZES {
        let icon = PathBuf::from(format!("/usr/share/icons/hicolor/{size}x{size}/apps/switchboard.png"));
        assert!(listed_set.contains(icon.as_path()), "the package installs a {size}×{size} icon: {listed:?}");
        let dimensions = image::image_dimensions(&icon).unwrap_or_else(|err| panic!("{}: {err}", icon.display()));
        assert_eq!(dimensions, (size, size), "{} is {size}×{size} pixels", icon.display());
    }

    // Its dependencies cover every library the installed binary links, the
    // tray's library it loads at run time, and the newest glibc it needs.
    let (depends, libc) = declared_depends();
    for (library, path) in linked_libraries(INSTALLED) {
        let owner = owner_of(&path).unwrap_or_else(|| panic!("no package owns {} ({library})", path.display()));
        assert!(
            depends.contains(&owner),
            "{INSTALLED} links {library} from {owner}, which the package does not depend on: {depends:?}"
        );
    }
    assert!(
        depends.contains(TRAY_LIBRARY_PACKAGE),
        "the package depends on {TRAY_LIBRARY_PACKAGE} (the tray icon): {depends:?}"
    );
    let libc = libc.unwrap_or_else(|| panic!("the package asks for no least libc6 version: {depends:?}"));
    let glibc = newest_glibc_needed(INSTALLED);
    assert!(
        glibc <= version_parts(&libc),
        "{INSTALLED} needs glibc {glibc:?}, but the package accepts libc6 from {libc}"
    );

    // The installed command line.
    let printed = run_ok("switchboard --version", Command::new(INSTALLED).arg("--version"), Duration::from_secs(30));
    assert_eq!(printed.trim(), switchboard_app::cli::version_line());
    let help = run_ok("switchboard --help", Command::new(INSTALLED).arg("--help"), Duration::from_secs(30));
    assert!(help.contains(switchboard_app::cli::USAGE), "--help prints the usage:\n{help}");

    // The installed binary's window, painted, in demo mode on a data directory of the user's.
    let data = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let started = Instant::now();
    let png = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(180), open_installed_window(data.path())).await })
        .expect("the installed app's window within 3 minutes");
    drop(runtime);
    eprintln!("package: the installed window: {:.1} s", started.elapsed().as_secs_f64());
    let shot = image::load_from_memory(&png).expect("the screenshot is an image").to_rgb8();
    let colours: HashSet<[u8; 3]> = shot.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 20, "the window is painted: its screenshot has only {} colours", colours.len());
    let output = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-output/package");
    std::fs::create_dir_all(&output).unwrap();
    std::fs::write(output.join("installed-window.png"), &png).unwrap();
    let database = data.path().join("demo.db");
    assert!(database.is_file(), "the installed app wrote its demo database in {}", data.path().display());
    for _ in 0..50 {
        if processes_running(INSTALLED).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(processes_running(INSTALLED).is_empty(), "the installed app still runs after its window closed");

    // Purged: every file it listed is gone; a directory may stay only when
    // another package still owns it. The user's data stays.
    run_ok("apt-get purge switchboard", &mut apt_get(&["purge", PACKAGE]), Duration::from_secs(300));
    drop(guard);
    assert!(!is_installed(), "{PACKAGE} is still installed after the purge");
    let left: Vec<String> = listed
        .iter()
        .filter(|path| path.symlink_metadata().is_ok())
        .filter(|path| !(path.is_dir() && owner_of(path).is_some()))
        .map(|path| path.display().to_string())
        .collect();
    assert!(left.is_empty(), "the purge left these behind: {left:?}");
    assert!(database.is_file(), "the purge kept the user's data ({})", database.display());
}
