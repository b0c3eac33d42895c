//! Tells the crate which whatsapp-rust it was built with (`--version` and
//! the About line name it), as the workspace's lock file pins it.

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    println!("cargo:rerun-if-changed={lock}");
    let text = std::fs::read_to_string(lock).expect("the workspace's Cargo.lock");
    let version = text
        .split("[[package]]")
        .find(|package| package.contains("\nname = \"whatsapp-rust\"\n"))
        .and_then(|package| package.lines().find_map(|line| line.strip_prefix("version = \"")))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("whatsapp-rust in Cargo.lock");
    println!("cargo:rustc-env=WHATSAPP_RUST_VERSION={version}");
}
