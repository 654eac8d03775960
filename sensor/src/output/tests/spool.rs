//! The redb spool: order, limits, removal, reopening.

use super::alert;
use crate::output::config::SpoolLimits;
use crate::output::spool::{Appended, Spool};

fn ns(s: &Spool) -> Vec<u64> {
    s.peek(1000)
        .unwrap()
        .into_iter()
        .map(|(_, a)| a.unwrap().output_field("n").and_then(serde_json::Value::as_u64).unwrap())
        .collect()
}

#[test]
fn fifo_with_removal_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let limits = SpoolLimits::default();
    let batch: Vec<_> = (0..5).map(|n| alert("r", "Error", n, "c", "/e")).collect();
    {
        let s = Spool::open(&path, limits).unwrap();
        assert_eq!(s.append(&batch).unwrap(), Appended { stored: 5, dropped: 0 });
        let peeked = s.peek(2).unwrap();
        assert_eq!(peeked.len(), 2);
        let first = peeked[0].1.as_ref().unwrap();
        assert_eq!(first.uuid, batch[0].uuid, "the UUID survives the spool");
        assert_eq!(first.time_ns, batch[0].time_ns);
        assert_eq!(first.alert, batch[0].alert);
        s.remove(&[peeked[0].0, peeked[1].0]).unwrap();
        assert_eq!(ns(&s), vec![2, 3, 4]);
        s.sync().unwrap();
    }
    let s = Spool::open(&path, limits).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(ns(&s), vec![2, 3, 4]);
    // New keys continue after the old ones: order is kept.
    s.append(&[alert("r", "Error", 9, "c", "/e")]).unwrap();
    assert_eq!(ns(&s), vec![2, 3, 4, 9]);
}

#[test]
fn count_limit_drops_oldest() {
    let s = Spool::in_memory(SpoolLimits { max_alerts: 3, max_bytes: 1 << 20 }).unwrap();
    let batch: Vec<_> = (0..5).map(|n| alert("r", "Error", n, "c", "/e")).collect();
    assert_eq!(s.append(&batch).unwrap(), Appended { stored: 5, dropped: 2 });
    assert_eq!(ns(&s), vec![2, 3, 4]);
    assert_eq!(s.append(&batch[..1]).unwrap(), Appended { stored: 1, dropped: 1 });
    assert_eq!(ns(&s), vec![3, 4, 0]);
}

#[test]
fn byte_limit_drops_oldest_and_refuses_oversized() {
    let one = alert("r", "Error", 0, "c", "/e").encode_record().len() as u64;
    let s = Spool::in_memory(SpoolLimits { max_alerts: 100, max_bytes: one * 2 + one / 2 }).unwrap();
    let batch: Vec<_> = (0..4).map(|n| alert("r", "Error", n, "c", "/e")).collect();
    assert_eq!(s.append(&batch).unwrap().dropped, 2);
    assert_eq!(ns(&s), vec![2, 3]);
    assert!(s.bytes() <= one * 2 + one / 2);
    let tiny = Spool::in_memory(SpoolLimits { max_alerts: 100, max_bytes: 10 }).unwrap();
    assert_eq!(tiny.append(&batch[..1]).unwrap(), Appended { stored: 0, dropped: 1 });
}

#[test]
fn replace_keeps_the_size() {
    let s = Spool::in_memory(SpoolLimits { max_alerts: 3, max_bytes: 1 << 20 }).unwrap();
    let batch: Vec<_> = (0..3).map(|n| alert("r", "Error", n, "c", "/e")).collect();
    s.append(&batch).unwrap();
    let keys: Vec<u64> = s.peek(3).unwrap().into_iter().map(|(k, _)| k).collect();
    let (done, new_key) = s.replace(Some(keys[1]), &alert("r", "Error", 7, "c", "/e")).unwrap();
    assert_eq!(done.dropped, 0, "the replaced alert made room");
    assert_eq!(ns(&s), vec![0, 2, 7]);
    assert_eq!(s.contains(&[keys[0], keys[1], new_key.unwrap()]).unwrap(), vec![keys[0], new_key.unwrap()]);
}

#[test]
fn unreadable_records_come_back_as_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let def: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("alerts");
            let mut t = w.open_table(def).unwrap();
            t.insert(1, b"not json".as_slice()).unwrap();
        }
        w.commit().unwrap();
    }
    let s = Spool::open(&path, SpoolLimits::default()).unwrap();
    let items = s.peek(10).unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].1.is_err());
}

#[test]
fn a_corrupt_file_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    std::fs::write(&path, vec![0xA5u8; 8192]).unwrap();
    let s = Spool::open(&path, SpoolLimits::default()).unwrap();
    assert!(s.is_empty());
    assert!(path.with_extension("corrupt").exists());
}
