//! Size-based rotation of the file output.

use crate::output::file::RotatingFile;

#[test]
fn rotates_and_keeps_n_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    // Lines of 10 bytes (9 + newline), files of at most 25: two a file.
    let mut f = RotatingFile::open(&path, 25, 2).unwrap();
    for i in 0..7 {
        f.write_line(format!("line-{i:04}").as_bytes()).unwrap();
    }
    f.flush().unwrap();
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&path), "line-0006\n");
    assert_eq!(read(&dir.path().join("alerts.jsonl.1")), "line-0004\nline-0005\n");
    assert_eq!(read(&dir.path().join("alerts.jsonl.2")), "line-0002\nline-0003\n");
    assert!(!dir.path().join("alerts.jsonl.3").exists(), "only `keep` rotated files");
}

#[test]
fn appends_to_an_existing_file_and_counts_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, "0123456789012345678\n").unwrap();
    let mut f = RotatingFile::open(&path, 25, 1).unwrap();
    f.write_line(b"next-line").unwrap();
    f.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "next-line\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("a.log.1")).unwrap(), "0123456789012345678\n");
}

#[test]
fn a_line_longer_than_the_limit_still_goes_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let mut f = RotatingFile::open(&path, 4, 1).unwrap();
    f.write_line(b"much longer than four").unwrap();
    f.flush().unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "much longer than four\n");
}
