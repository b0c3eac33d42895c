//! P-7 with a real desktop keyring: this test runs itself again inside a
//! D-Bus session of its own (`dbus-run-session`) with a GNOME keyring daemon
//! it starts there, its files in a temporary home, so the person's keyring
//! is never touched. Needs Debian's `dbus-daemon` and `gnome-keyring`
//! (README's test command installs them).

use std::path::Path;
use std::process::Command;

use switchboard_whatsapp::protection::{DesktopKeyring, KeyVault, Opening, Protection, Vault};

const CHILD: &str = "SWITCHBOARD_P7_KEYRING_CHILD";

/// P-7: the first start finds the keyring and keeps a new key in it; the
/// next start reads the same key back and proves it on `key.db`; another
/// installation (data directory) gets a key of its own.
#[test]
fn p7_the_key_round_trips_through_a_real_secret_service() {
    if std::env::var_os(CHILD).is_some() {
        return in_the_session();
    }
    let home = tempfile::tempdir().unwrap();
    let runtime = home.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    // The daemon reads the login keyring's password on stdin, creates and
    // unlocks it, then the test itself runs in the same session.
    let script = r#"printf 'test-login-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 90
exec "$@""#;
    let output = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", script, "sh"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "p7_the_key_round_trips_through_a_real_secret_service", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .output()
        .expect("dbus-run-session (Debian's dbus-daemon) is needed");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_ne!(output.status.code(), Some(90), "gnome-keyring-daemon could not start:\n{text}");
    assert!(output.status.success(), "the test in its own D-Bus session failed:\n{text}");
    assert!(text.contains("keyring round trip: ok"), "the session did not run the test:\n{text}");
    println!("{text}");
    let keyrings = home.path().join("data/keyrings");
    assert!(keyrings.is_dir(), "the keyring daemon kept nothing under the temporary home");
}

fn in_the_session() {
    let install = tempfile::tempdir().unwrap();
    let keyring = DesktopKeyring::for_data_dir(install.path());
    assert_eq!(keyring.load(), Ok(None), "a new installation has no key");
    let vault = Vault::new(install.path().join("whatsapp"));
    let Ok(Opening::Open(first)) = vault.open(&keyring) else {
        panic!("the keyring was not used: {:?}", vault.open(&keyring))
    };
    assert_eq!(first.protection, Protection::Keyring);
    let saved = keyring.load().unwrap().expect("the key is in the keyring");
    assert_eq!(saved.len(), 64);

    // The next start: a new client of the same keyring reads it back.
    let again = DesktopKeyring::for_data_dir(install.path());
    assert_eq!(vault.open(&again), Ok(Opening::Open(first.clone())));

    let other = tempfile::tempdir().unwrap();
    let other_keyring = DesktopKeyring::for_data_dir(other.path());
    let Ok(Opening::Open(second)) = Vault::new(other.path().join("whatsapp")).open(&other_keyring) else {
        panic!("the second installation did not open")
    };
    assert_ne!(second.key, first.key, "each installation has its own key");
    assert!(!key_db_is_plain(&install.path().join("whatsapp/key.db")));
    println!("keyring round trip: ok");
}

fn key_db_is_plain(path: &Path) -> bool {
    std::fs::read(path).unwrap().starts_with(switchboard_whatsapp::protection::SQLITE_HEADER)
}
