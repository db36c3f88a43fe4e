/** Live: this replica's calls/s, error rate, p50/p99 latency and denials per tool, polled every few seconds. */
import { fill, h, time } from './dom.js';
import { lineChart } from './plot.js';

/** @typedef {import('./types.js').Summary} Summary */
/** @typedef {import('./types.js').SummaryPoint} SummaryPoint */

const POLL_MS = 3000;
const COLORS = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];

/** @type {import('./types.js').View} */
export async function liveView({ main, api, fail }) {
  const header = h('p', { class: 'muted', id: 'live-replica' });
  const legend = h('div', { class: 'legend', id: 'live-legend' });
  const charts = h('div', { class: 'charts', id: 'live-charts' });
  fill(main, h('h2', {}, 'Live'), header, legend, charts);

  const draw = async () => {
    const summary = /** @type {Summary} */ ((await api('GET', '/admin/metrics/summary')).data);
    const { replica } = summary;
    fill(
      header,
      `Replica ${replica.hostname} (pid ${replica.pid}, up since ${time(replica.startedAt)}): this replica's own metrics, ` +
        `sampled every ${summary.intervalSeconds} s. The fleet view is the Grafana dashboard.`,
    );
    const to = Date.now();
    const allPoints = summary.tools.flatMap((t) => t.points);
    const from = Math.min(to - 60_000, ...allPoints.map((p) => Date.parse(p.at) - p.seconds * 1000));
    const color = (/** @type {number} */ i) => COLORS[i % COLORS.length];
    /**
     * @param {(p: SummaryPoint) => number | null} pick
     * @param {boolean} [dashed]
     */
    const series = (pick, dashed = false) =>
      summary.tools.map((t, i) => ({
        name: t.tool,
        color: color(i),
        dashed,
        points: t.points.map((p) => ({ t: Date.parse(p.at), v: pick(p) })),
      }));
    const latency = [...series((p) => p.p50Ms), ...series((p) => p.p99Ms, true)];
    fill(
      legend,
      ...summary.tools.map((t, i) =>
        h(
          'span',
          { class: 'legend-item', dataset: { tool: t.tool } },
          h('span', { class: `swatch swatch-${i % COLORS.length}` }),
          `${t.tool} (${t.totals.calls} calls, ${t.totals.errors} errors, ${t.totals.denials} denials)`,
        ),
      ),
      summary.tools.length ? null : 'No tool calls on this replica yet.',
    );
    fill(
      charts,
      chart(
        'Calls per second',
        lineChart({ title: 'Calls per second', unit: '', series: series((p) => p.callsPerSecond), from, to }),
      ),
      chart(
        'Error rate',
        lineChart({
          title: 'Error rate',
          unit: '%',
          series: series((p) => (p.errorRate === null ? null : p.errorRate * 100)),
          from,
          to,
        }),
      ),
      chart(
        'Latency p50 (solid) and p99 (dashed)',
        lineChart({ title: 'Latency', unit: ' ms', series: latency, from, to }),
      ),
      chart(
        'Denials per second',
        lineChart({
          title: 'Denials per second',
          unit: '',
          series: series((p) => p.denialsPerSecond),
          from,
          to,
        }),
      ),
    );
  };

  await draw();
  const timer = setInterval(() => void draw().catch(fail), POLL_MS);
  return () => clearInterval(timer);
}

/**
 * @param {string} title
 * @param {SVGElement} svg
 */
function chart(title, svg) {
  return h('figure', { class: 'card chart-card' }, h('figcaption', {}, title), svg);
}
