//! Generates the API v1 messages and gRPC stubs from `proto/xueliang/v1/*.proto` with the
//! system `protoc` (Debian `protobuf-compiler`, installed by `deploy/setup.sh`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not baked in at compile time: a cached build script must still find the
    // protos of the checkout that runs it.
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    let root = std::path::Path::new(&manifest).join("../../proto");
    let files = [
        "sighting.proto",
        "health.proto",
        "uplink.proto",
        "search.proto",
        "media.proto",
    ]
    .map(|f| root.join("xueliang/v1").join(f));
    tonic_prost_build::configure().compile_protos(&files, std::slice::from_ref(&root))?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}
