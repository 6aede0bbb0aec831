//! Re-embeds the migrations when they change and fingerprints them, so
//! that test templates built from an older schema are never reused.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

fn visit(dir: &Path, hasher: &mut DefaultHasher) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            visit(&path, hasher);
        } else if let Ok(bytes) = std::fs::read(&path) {
            path.file_name().hash(hasher);
            bytes.hash(hasher);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    let mut hasher = DefaultHasher::new();
    visit(Path::new("../migrations"), &mut hasher);
    println!("cargo:rustc-env=LABSHARE_SCHEMA_FINGERPRINT={:016x}", hasher.finish());
}
