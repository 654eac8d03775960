//! The outputs swapped with real file outputs: alerts raised during a swap
//! reach the new outputs, none is written twice or lost, and outputs that
//! do not start leave the previous ones running.

use std::path::Path;
use std::time::Duration;

use super::OutputsControl;
use crate::output::stage::AlertStages;
use crate::output::{DeliveryMetrics, Outputs, OutputsConfig, StormControl};
use crate::rules::{Alert, Priority};

fn file_output(path: &Path) -> OutputsConfig {
    serde_saphyr::from_str(&format!("targets:\n  - file: {{ path: '{}' }}\n", path.display())).unwrap()
}

fn alert(n: u64) -> Alert {
    let mut fields = serde_json::Map::new();
    fields.insert("n".into(), n.into());
    Alert {
        hostname: "node".into(),
        output: Some(format!("alert {n}")),
        priority: Priority::Warning,
        rule: "Swap test".into(),
        source: "syscall".into(),
        tags: None,
        time: "2026-12-02T00:00:00.000000000Z".into(),
        output_fields: Some(fields),
        message: None,
    }
}

/// The alert numbers written to `path`, in order.
fn written(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["output_fields"]["n"].as_u64().unwrap())
        .collect()
}

/// Polls until the swap is done; its failure report, if any.
async fn settle(c: &mut OutputsControl, stages: &mut Option<AlertStages>) -> Option<String> {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut failure = None;
    while c.swapping() {
        assert!(tokio::time::Instant::now() < end, "the swap did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
        failure = c.poll(stages).or(failure);
    }
    failure
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_during_a_swap_reach_the_new_outputs_and_outputs_that_fail_to_start_leave_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let registry = prometheus::Registry::new();
    let dm = DeliveryMetrics::register(&registry).unwrap();
    let first = file_output(&a);
    let mut stages =
        Some(AlertStages::new(Outputs::start(&first, &dm, "node").unwrap(), StormControl::new(&first.storm, &dm)));
    let rt = tokio::runtime::Handle::current();
    let mut c = OutputsControl::new(rt, "node".into(), registry, Some(first.clone()), Some(dm.clone()));
    for n in 0..100 {
        stages.as_mut().unwrap().alert(&alert(n), n);
    }
    assert!(!c.reconfigure(&mut stages, Some(first)), "the same outputs are not restarted");
    assert!(stages.is_some());

    assert!(c.reconfigure(&mut stages, Some(file_output(&b))));
    assert!(c.swapping() && stages.is_none());
    for n in 100..200 {
        c.hold(&alert(n), n);
    }
    assert_eq!(settle(&mut c, &mut stages).await, None);
    for n in 200..300 {
        stages.as_mut().unwrap().alert(&alert(n), n);
    }

    // Below a regular file no file can be made: these never start, and the
    // previous outputs (b) run again, with what waited meanwhile.
    assert!(c.reconfigure(&mut stages, Some(file_output(&a.join("below-a-file")))));
    for n in 300..310 {
        c.hold(&alert(n), n);
    }
    let failure = settle(&mut c, &mut stages).await.expect("the failure is reported");
    assert!(failure.contains("below-a-file"), "{failure}");
    let st = stages.take().expect("the previous outputs run again");
    assert_eq!(st.outputs().names(), vec!["file"]);
    let mut st = st;
    st.alert(&alert(310), 310);
    st.shutdown(Duration::from_secs(5)).await;

    assert_eq!(written(&a), (0..100).collect::<Vec<_>>(), "the first outputs got what came before the swap");
    assert_eq!(written(&b), (100..311).collect::<Vec<_>>(), "the new outputs got the rest, in order, once");
    // Nothing was dropped on the way.
    let dropped: u64 = dm.dropped.with_label_values(&["all", super::RELOAD_DROP]).get();
    assert_eq!(dropped, 0);
}
