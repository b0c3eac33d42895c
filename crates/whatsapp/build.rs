//! Tells the crate which whatsapp-rust it was built with (`--version` and
//! the About line name it), as the workspace's lock file pins it.

fn main() {
    // Read when the script runs, not when it was compiled: a target directory
    // shared by two clones reuses one compiled script for both.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lock = format!("{manifest_dir}/../../Cargo.lock");
    println!("cargo:rerun-if-changed={lock}");
    let text = std::fs::read_to_string(&lock).expect("the workspace's Cargo.lock");
    let version = text
        .split("[[package]]")
        .find(|package| package.contains("\nname = \"whatsapp-rust\"\n"))
        .and_then(|package| package.lines().find_map(|line| line.strip_prefix("version = \"")))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("whatsapp-rust in Cargo.lock");
    println!("cargo:rustc-env=WHATSAPP_RUST_VERSION={version}");
}
