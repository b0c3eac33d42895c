//! The TypeScript types the UI compiles against are generated from the Rust
//! DTOs; this fails when `ui/src/bindings.ts` is stale.
//! `UPDATE_BINDINGS=1 cargo test -p switchboard-tests bindings` rewrites it.

#[test]
fn typescript_bindings_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let generated = switchboard_app::dto::typescript_bindings();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p switchboard-tests bindings`"
    );
}
