// Validates the ServiceMonitor and PrometheusRule objects read as a JSON
// array on stdin against the prometheus-operator CRD schemas, as packaged
// by @kubernetes-models/prometheus-operator (installed by scripts/setup.sh
// under $SENSOR_TOOLS/node). Prints one line per object; exit 1 on a failure.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const tools = process.env.SENSOR_TOOLS || "/opt/sensor-tools";
const base = `${tools}/node/node_modules/@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1`;
const kinds = {
  ServiceMonitor: (await import(pathToFileURL(`${base}/ServiceMonitor.js`))).ServiceMonitor,
  PrometheusRule: (await import(pathToFileURL(`${base}/PrometheusRule.js`))).PrometheusRule,
};
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
let checked = 0;
for (const o of objects) {
  const Model = kinds[o.kind];
  if (!Model || o.apiVersion !== "monitoring.coreos.com/v1") continue;
  checked++;
  try {
    new Model(o).validate();
    console.log(`ok ${o.kind}/${o.metadata.name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${o.kind}/${o.metadata.name}: ${e.message}`);
  }
}
if (checked === 0) {
  console.log("FAIL no ServiceMonitor or PrometheusRule in the input");
  process.exit(1);
}
process.exit(failed ? 1 : 0);
