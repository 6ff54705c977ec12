//! The `xueliang` binary's answers to bad input: one line on stderr naming the culprit, exit 1.

use std::process::Command;

fn xueliang(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xueliang"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line_error(stderr: &str) -> &str {
    let line = stderr.trim_end();
    assert!(!line.contains('\n'), "more than one line: {stderr}");
    assert!(line.starts_with("error: "), "{stderr}");
    line
}

#[test]
fn malformed_config_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        "[edge]\nnode = \"e1\"\nupstream = \"http://127.0.0.1:1\"\ncamras = []\n",
    )
    .unwrap();
    let (code, _, err) = xueliang(&["edge", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = one_line_error(&err);
    assert!(
        line.contains("edge.toml") && line.contains("line 4") && line.contains("camras"),
        "{line}"
    );
}

#[test]
fn missing_config_file_is_named() {
    let (code, _, err) = xueliang(&["platform", "--config", "/nonexistent/city.toml"]);
    assert_eq!(code, 1);
    assert!(
        one_line_error(&err).contains("/nonexistent/city.toml"),
        "{err}"
    );
}

#[test]
fn missing_model_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.toml");
    std::fs::write(
        &path,
        "[edge]\nnode = \"e1\"\nupstream = \"http://127.0.0.1:1\"\n\
         database = \"DIR/e.sqlite\"\n\
         [edge.detector]\nmodel = \"/nonexistent/detector.onnx\"\n\
         [[edge.camera]]\nid = \"a\"\nurl = \"rtsp://127.0.0.1:1/a\"\n"
            .replace("DIR", dir.path().to_str().unwrap()),
    )
    .unwrap();
    let (code, _, err) = xueliang(&["edge", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = one_line_error(&err);
    assert!(line.contains("/nonexistent/detector.onnx"), "{line}");
    assert!(line.contains("setup"), "should say how to fix it: {line}");
}

#[test]
fn bad_search_arguments_are_explained() {
    let (code, _, err) = xueliang(&["search", "--class", "plane"]);
    assert_eq!(code, 2, "usage error");
    assert!(err.contains("plane") && err.contains("car"), "{err}");
    let (code, _, err) = xueliang(&["search", "--from", "yesterday-ish"]);
    assert_eq!(code, 1);
    assert!(one_line_error(&err).contains("--from"), "{err}");
}

#[test]
fn help_lists_the_subcommands() {
    let (code, out, _) = xueliang(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["demo", "edge", "platform", "search", "camera", "bench"] {
        assert!(out.contains(sub), "{out}");
    }
}
