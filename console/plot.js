/** Line charts as inline SVG, built with DOM calls (no markup strings). */

const SVG = 'http://www.w3.org/2000/svg';
const [WIDTH, HEIGHT] = [520, 150];
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attributes
 * @param {string} [text]
 */
function svg(tag, attributes, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A round upper bound for the y axis. @param {number} max */
function niceMax(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 2.5, 5, 10].map((m) => m * step).find((m) => m >= max) ?? max;
}

/** @param {number} value */
function label(value) {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * @typedef {{ name: string, color: string, dashed?: boolean, points: { t: number, v: number | null }[] }} Series
 * @param {{ title: string, unit: string, series: Series[], from: number, to: number }} chart
 */
export function lineChart({ title, unit, series, from, to }) {
  const values = series.flatMap((s) => s.points.map((p) => p.v)).filter((v) => v !== null);
  const top = niceMax(Math.max(0, ...values));
  const x = (/** @type {number} */ t) =>
    PAD.left + ((t - from) / Math.max(to - from, 1)) * (WIDTH - PAD.left - PAD.right);
  const y = (/** @type {number} */ v) => PAD.top + (1 - v / top) * (HEIGHT - PAD.top - PAD.bottom);

  const root = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: 'chart',
    role: 'img',
    'aria-label': title,
  });
  root.append(svg('title', {}, title));
  for (const fraction of [0, 0.5, 1]) {
    const v = top * fraction;
    root.append(
      svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v), class: 'grid' }),
      svg(
        'text',
        { x: PAD.left - 4, y: y(v) + 3, class: 'axis', 'text-anchor': 'end' },
        `${label(v)}${unit}`,
      ),
    );
  }
  const minutes = Math.round((to - from) / 60_000);
  root.append(
    svg('text', { x: PAD.left, y: HEIGHT - 4, class: 'axis' }, `−${minutes} min`),
    svg('text', { x: WIDTH - PAD.right, y: HEIGHT - 4, class: 'axis', 'text-anchor': 'end' }, 'now'),
  );
  for (const s of series) {
    // A gap (no calls: no latency) breaks the line.
    let d = '';
    let pen = 'M';
    for (const p of s.points) {
      if (p.v === null) {
        pen = 'M';
        continue;
      }
      d += `${pen}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)} `;
      pen = 'L';
    }
    const path = svg('path', {
      d: d.trim() || 'M0,0',
      stroke: s.color,
      class: s.dashed ? 'line dashed' : 'line',
    });
    path.setAttribute('data-series', s.name);
    const drawn = s.points.filter((p) => p.v !== null);
    path.setAttribute('data-points', String(drawn.length));
    root.append(path);
    // The latest value as a dot: visible even while there is only one interval.
    const last = drawn.at(-1);
    if (last && last.v !== null && !s.dashed) {
      root.append(svg('circle', { cx: x(last.t), cy: y(last.v), r: 3, fill: s.color, class: 'last' }));
    }
  }
  return root;
}
