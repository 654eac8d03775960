//! One output's side of the fan-out: its priority filter, its bounded
//! drop-oldest queue and the counters its tasks and the reporter share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;
use prometheus::IntCounter;
use tokio::sync::Notify;

use super::alert::DeliveredAlert;
use crate::rules::Priority;

pub struct Lane {
    pub name: String,
    pub min_priority: Priority,
    queue: ArrayQueue<Arc<DeliveredAlert>>,
    notify: Notify,
    queue_dropped: IntCounter,
    /// Drops not yet reported as an alert.
    pub unreported_queue_drops: AtomicU64,
    pub unreported_spool_drops: AtomicU64,
    /// Alerts the receiver refused for good (4xx), not yet reported.
    pub unreported_rejects: AtomicU64,
    /// Unix ms when every delivery attempt started failing; 0 while
    /// delivering.
    pub failing_since_ms: AtomicU64,
    /// Unix ms of the last failing report (0: none for this failure).
    pub failing_reported_ms: AtomicU64,
    /// Why the last attempt failed.
    pub failure: std::sync::Mutex<String>,
    /// Taken from the queue, not yet written or spooled.
    pub in_flight: AtomicU64,
    /// The task that empties the queue has stopped.
    pub drained: AtomicBool,
}

impl Lane {
    pub fn new(name: String, min_priority: Priority, capacity: usize, queue_dropped: IntCounter) -> Self {
        Self {
            name,
            min_priority,
            queue: ArrayQueue::new(capacity.max(1)),
            notify: Notify::new(),
            queue_dropped,
            unreported_queue_drops: AtomicU64::new(0),
            unreported_spool_drops: AtomicU64::new(0),
            unreported_rejects: AtomicU64::new(0),
            failing_since_ms: AtomicU64::new(0),
            failing_reported_ms: AtomicU64::new(0),
            failure: std::sync::Mutex::new(String::new()),
            in_flight: AtomicU64::new(0),
            drained: AtomicBool::new(false),
        }
    }

    pub fn wants(&self, a: &DeliveredAlert) -> bool {
        a.priority <= self.min_priority
    }

    /// Queues `a`, dropping the oldest alert when full. Never blocks.
    pub fn push(&self, a: Arc<DeliveredAlert>) {
        if self.queue.force_push(a).is_some() {
            self.queue_dropped.inc();
            self.unreported_queue_drops.fetch_add(1, Ordering::Relaxed);
        }
        self.notify.notify_one();
    }

    /// Up to `max` queued alerts, oldest first, counted in flight.
    ///
    /// Each alert is counted in flight before it leaves the queue, so that
    /// [`super::Outputs::pending`] never sees it in neither place.
    pub fn take(&self, max: usize) -> Vec<Arc<DeliveredAlert>> {
        let mut v = Vec::with_capacity(self.queue.len().min(max));
        while v.len() < max {
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            let Some(a) = self.queue.pop() else {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                break;
            };
            v.push(a);
        }
        v
    }

    pub fn done(&self, n: usize) {
        self.in_flight.fetch_sub(n as u64, Ordering::AcqRel);
    }

    pub async fn wait(&self) {
        self.notify.notified().await;
    }

    pub fn wake(&self) {
        self.notify.notify_one();
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}
