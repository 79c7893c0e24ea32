//! Points the embedded web UI at `ui/dist` when it has been built (`scripts/build-ui.sh`),
//! or at a one-page placeholder so the server still compiles and runs without Node.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("ui").join("dist");
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = if dist.join("index.html").is_file() {
        dist
    } else {
        let out =
            PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("ui-placeholder");
        std::fs::create_dir_all(&out).expect("create the UI placeholder folder");
        std::fs::write(
            out.join("index.html"),
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Fulcrum</title></head><body>\
             <p>The Fulcrum web UI was not built into this binary. Build it with <code>scripts/run.sh</code>.</p>\
             <p lang=\"ko\">이 바이너리에는 Fulcrum 웹 UI가 포함되어 있지 않습니다. <code>scripts/run.sh</code>로 빌드하세요.</p>\
             </body></html>\n",
        )
        .expect("write the UI placeholder");
        out
    };
    println!("cargo:rustc-env=EMBEDDED_UI_DIR={}", dir.display());
}
