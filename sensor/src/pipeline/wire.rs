//! The alert half of the pipeline, wired in one place for `sensor run` and
//! `sensor replay`: detection (the [`AlertSink`]) → storm control → the
//! configured outputs, beside the stdout line. `sensor events` stops before
//! detection (`JsonLines`).

use std::io::Write;
use std::time::Duration;

use log::{info, warn};

use super::alert_stage::{AlertFormat, AlertSink};
use super::outputs_swap::OutputsControl;
use crate::detect::Detector;
use crate::metrics::Metrics;
use crate::output::stage::AlertStages;
use crate::output::{DeliveryMetrics, OutputError, Outputs, OutputsConfig, StormControl};

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("registering the delivery metrics")]
    Metrics(#[source] prometheus::Error),
    #[error("starting the outputs")]
    Outputs(#[source] OutputError),
}

/// What comes after detection.
pub struct AlertWiring<'a> {
    /// Falco JSON or text lines on `out`.
    pub format: AlertFormat,
    /// Storm control and outputs; `None`: the stdout line only.
    pub outputs: Option<&'a OutputsConfig>,
    /// The outputs replace the stdout line (an `outputs:` section was
    /// configured); `--webhook` alone adds to it.
    pub replaces_stdout: bool,
}

/// The detection stage and everything after it, on the current tokio
/// runtime (the outputs' tasks run there).
pub fn alert_sink<W: Write>(
    detector: Detector,
    wiring: &AlertWiring<'_>,
    metrics: &Metrics,
    out: W,
) -> Result<AlertSink<W>, WireError> {
    let (stages, dm) = match wiring.outputs {
        Some(outs) => {
            let dm = DeliveryMetrics::register(&metrics.registry).map_err(WireError::Metrics)?;
            let started = Outputs::start(outs, &dm, detector.hostname()).map_err(WireError::Outputs)?;
            info!("alert outputs: {}", started.names().join(", "));
            (Some(AlertStages::new(started, StormControl::new(&outs.storm, &dm))), Some(dm))
        }
        None => (None, None),
    };
    let control = tokio::runtime::Handle::try_current().ok().map(|rt| {
        OutputsControl::new(rt, detector.hostname().to_owned(), metrics.registry.clone(), wiring.outputs.cloned(), dm)
    });
    let mut sink = AlertSink::new(detector, out);
    sink.format = wiring.format;
    sink.write_lines = !(wiring.outputs.is_some() && wiring.replaces_stdout);
    sink.stages = stages;
    sink.outputs_control = control;
    sink.baseline_metrics = Some(metrics.baseline.clone());
    Ok(sink)
}

/// After the last event: storm windows closed and their summaries sent,
/// then delivery for up to `deadline`; what is left stays in the spools
/// (said per output).
pub async fn close<W: Write>(sink: &mut AlertSink<W>, deadline: Duration) {
    // A reload's outputs still starting: they take the alerts that waited.
    if let Some(c) = &mut sink.outputs_control {
        let until = tokio::time::Instant::now() + super::outputs_swap::SWAP_DELIVERY * 3;
        while c.swapping() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(report) = c.poll(&mut sink.stages) {
                warn!("{report}");
            }
        }
    }
    if let Some(st) = sink.stages.take() {
        let report = st.shutdown(deadline).await;
        for (name, n) in report.spooled.iter().filter(|(_, n)| **n > 0) {
            warn!("output {name}: {n} alerts left in the spool, delivered after a restart on the same spool_dir");
        }
    }
}
