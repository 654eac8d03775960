//! The alert stages after detection, as `sensor run` wires them: storm
//! control, then the fan-out to every configured output. Both are cheap and
//! never wait: the outputs' own tasks do the network and disk work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DeliveredAlert, Outputs, ShutdownReport, StormControl};
use crate::rules::Alert;

pub struct AlertStages {
    outputs: Outputs,
    storm: StormControl,
    admitted: Vec<Arc<DeliveredAlert>>,
}

impl AlertStages {
    pub fn new(outputs: Outputs, storm: StormControl) -> Self {
        Self { outputs, storm, admitted: Vec::new() }
    }

    /// One alert of the event at `time_ns` (nanoseconds since the epoch).
    pub fn alert(&mut self, alert: &Alert, time_ns: u64) {
        let a = Arc::new(DeliveredAlert::from_alert(alert, time_ns));
        self.storm.admit(a, Instant::now(), &mut self.admitted);
        self.forward();
    }

    /// Summaries of the storm-control windows that closed.
    pub fn tick(&mut self) {
        self.storm.expire(Instant::now(), &mut self.admitted);
        self.forward();
    }

    fn forward(&mut self) {
        for a in self.admitted.drain(..) {
            self.outputs.send(a);
        }
    }

    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Closes every storm window (their summaries go out), then delivers
    /// what the outputs can before `deadline`.
    pub async fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        self.storm.expire(Instant::now() + Duration::from_secs(86_400 * 365), &mut self.admitted);
        self.forward();
        self.outputs.shutdown(deadline).await
    }
}
