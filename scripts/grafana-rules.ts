/**
 * Prints every PromQL query of a Grafana dashboard as a Prometheus recording-rule file (JSON, which is YAML too),
 * for `promtool check rules` in .ci/run:
 *   node dist/scripts/grafana-rules.js deploy/grafana/mcp-production.json > rules.yml && promtool check rules rules.yml
 */
import { readFileSync } from 'node:fs';
import { recordingRules, type Dashboard } from './grafana-dashboard.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/scripts/grafana-rules.js <dashboard.json>');
  process.exit(2);
}
console.log(JSON.stringify(recordingRules(JSON.parse(readFileSync(file, 'utf8')) as Dashboard), null, 2));
