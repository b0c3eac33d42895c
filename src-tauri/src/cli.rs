//! The command line: `switchboard [--demo] [--data-dir PATH] [--minimized]`.

use std::path::{Path, PathBuf};

pub const USAGE: &str = "usage: switchboard [--demo] [--data-dir PATH] [--minimized]

  --demo            run on the simulated WhatsApp (practice; a separate database)
  --data-dir PATH   keep the database, logs and credentials in PATH
                    (default: $SWITCHBOARD_DATA_DIR, else the platform's app data directory)
  --minimized       start without showing the window (as at login): the tray icon shows it
  -V, --version     show the version of Switchboard and of whatsapp-rust
  -h, --help        show this help";

/// What `--version` prints and the About line says.
pub fn version_line() -> String {
    format!("Switchboard {} (whatsapp-rust {})", env!("CARGO_PKG_VERSION"), switchboard_whatsapp::LIBRARY_VERSION)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub demo: bool,
    pub data_dir: Option<PathBuf>,
    /// Print this instead of starting the app.
    pub print: Option<Print>,
    /// Start hidden, as the login item does (the tray shows the window).
    pub minimized: bool,
}

/// What `--help` and `--version` print instead of starting the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Print {
    Help,
    Version,
}

/// Parses the arguments after the program name. The environment variable
/// `SWITCHBOARD_DATA_DIR` is the default of `--data-dir`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        data_dir: std::env::var_os("SWITCHBOARD_DATA_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
        ..Options::default()
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--demo" => options.demo = true,
            "--data-dir" => {
                let dir = args.next().filter(|d| !d.is_empty()).ok_or("--data-dir needs a path")?;
                options.data_dir = Some(PathBuf::from(dir));
            }
            "-h" | "--help" => options.print = Some(Print::Help),
            "-V" | "--version" => options.print = Some(Print::Version),
            "--minimized" => options.minimized = true,
            other => return Err(format!("unknown argument “{other}”")),
        }
    }
    Ok(options)
}

/// Creates the data directory readable by this user only (P-6: credentials live there).
pub fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn flags_parse_and_bad_ones_are_refused() {
        let o = parse(args(&["--demo", "--data-dir", "/tmp/x"])).unwrap();
        assert!(o.demo);
        assert_eq!(o.data_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(parse(args(&["--data-dir"])).unwrap_err(), "--data-dir needs a path");
        assert!(parse(args(&["--nope"])).unwrap_err().contains("unknown argument"));
        assert_eq!(parse(args(&["-h"])).unwrap().print, Some(Print::Help));
        assert_eq!(parse(args(&["--version"])).unwrap().print, Some(Print::Version));
        assert_eq!(parse(args(&["-V"])).unwrap().print, Some(Print::Version));
        assert!(parse(args(&["--minimized"])).unwrap().minimized);
    }

    #[test]
    fn the_version_names_switchboard_and_whatsapp_rust() {
        let line = version_line();
        assert!(line.starts_with(&format!("Switchboard {} (whatsapp-rust ", env!("CARGO_PKG_VERSION"))), "{line}");
        let library = line.rsplit(' ').next().unwrap().trim_end_matches(')');
        assert_eq!(library.split('.').count(), 3, "{line}");
        assert!(library.split('.').all(|part| part.parse::<u32>().is_ok()), "{line}");
    }

    #[test]
    fn the_data_dir_is_private_to_the_user() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        prepare_data_dir(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }
}
