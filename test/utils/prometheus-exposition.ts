import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary']);

/** The sample names a family of this type may carry (a histogram has no sample under its own name). */
export function seriesNames(family: Pick<MetricFamily, 'name' | 'type'>): string[] {
  const { name, type } = family;
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

function parseFloatValue(text: string): number {
  return text.endsWith('Inf') ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
}

/**
 * Parses a Prometheus text exposition (format 0.0.4) with the `parse-prometheus-text-format` library and checks
 * what a scraper relies on (it replaces `promtool check metrics`, so `npm test` needs no Prometheus install):
 * - every line parses: the library reads the whole text and each sample line, and every value is a float;
 * - metric and label names are valid, every family has exactly one TYPE and one HELP (the library refuses an
 *   empty one), before its
 *   samples, and each sample belongs to the family its TYPE line opened (`_bucket`/`_sum`/`_count` only for
 *   histograms and summaries);
 * - counters are ≥ 0 and named `…_total`, and no other type is (promtool's lint);
 * - no series appears twice;
 * - histogram buckets come in increasing `le` order, end with `+Inf`, never decrease, and `+Inf` equals
 *   `_count`; `_sum` is present.
 * Throws one error listing every problem; returns the families.
 */
export function parseExposition(text: string): MetricFamily[] {
  const problems: string[] = [];
  const families = new Map<string, MetricFamily>();
  const helps = new Set<string>();
  const series = new Set<string>();
  /** Per histogram series (labels without `le`): its buckets in order, `_count` and `_sum`. */
  const histograms = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  let current: MetricFamily | undefined;

  // The library's own view of the whole text: it throws on a line it cannot read.
  const libraryFamilies = parsePrometheusTextFormat(text);

  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    const at = `line ${index + 1}`;
    if (line === '') continue;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) continue; // a plain comment
      const [, kind, name, rest = ''] = meta;
      if (!METRIC_NAME.test(name)) problems.push(`${at}: invalid metric name ${name}`);
      if (kind === 'HELP') {
        if (helps.has(name)) problems.push(`${at}: second HELP for ${name}`);
        helps.add(name);
        continue;
      }
      if (families.has(name)) problems.push(`${at}: second TYPE for ${name}`);
      if (!TYPES.has(rest)) problems.push(`${at}: unknown type "${rest}" for ${name}`);
      if ((rest === 'counter') !== name.endsWith('_total'))
        problems.push(`${at}: ${name} is a ${rest}: only counters end in _total`);
      current = { name, type: rest as MetricType, help: '', samples: [] };
      families.set(name, current);
      continue;
    }

    // A sample line, read by the library alone (so labels are not merged across series); the library emits a
    // family when the line after it ends it, hence the newline.
    const [parsed] = parsePrometheusTextFormat(`${line}\n`);
    const name = parsed.name;
    const { value: valueText = '', labels = {} } = parsed.metrics[0] ?? {};
    if (!METRIC_NAME.test(name)) problems.push(`${at}: invalid metric name ${name}`);
    for (const label of Object.keys(labels))
      if (!LABEL_NAME.test(label) || label.startsWith('__'))
        problems.push(`${at}: invalid label name ${label}`);
    if (!FLOAT.test(valueText))
      problems.push(`${at}: ${name} has no valid value (${JSON.stringify(valueText)})`);
    const value = parseFloatValue(valueText);
    if (!current || !seriesNames(current).includes(name)) {
      problems.push(`${at}: sample ${name} outside its family (${current?.name ?? 'no TYPE yet'})`);
      continue;
    }
    current.samples.push({ name, labels, value });
    const key = `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
    if (series.has(key)) problems.push(`${at}: duplicate series ${key}`);
    series.add(key);
    const counting = current.type === 'counter' || /_(bucket|count)$/.test(name);
    if (counting && !(value >= 0)) problems.push(`${at}: ${name} is a count but ${valueText}`);

    if (current.type !== 'histogram') continue;
    const { le, ...rest } = labels;
    const group = `${current.name}${JSON.stringify(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)))}`;
    const histogram = histograms.get(group) ?? { buckets: [] };
    histograms.set(group, histogram);
    if (name.endsWith('_bucket')) {
      if (le === undefined || !FLOAT.test(le)) problems.push(`${at}: bucket without a valid le`);
      else histogram.buckets.push([parseFloatValue(le), value]);
    } else if (le !== undefined) problems.push(`${at}: le on ${name}`);
    else if (name.endsWith('_count')) histogram.count = value;
    else histogram.sum = value;
  }

  for (const [group, { buckets, count, sum }] of histograms) {
    for (let k = 1; k < buckets.length; k++) {
      if (!(buckets[k][0] > buckets[k - 1][0]))
        problems.push(`${group}: bucket le=${buckets[k][0]} out of order`);
      if (buckets[k][1] < buckets[k - 1][1]) problems.push(`${group}: bucket le=${buckets[k][0]} decreases`);
    }
    const last = buckets.at(-1);
    if (last?.[0] !== Infinity) problems.push(`${group}: no le="+Inf" bucket`);
    else if (last[1] !== count) problems.push(`${group}: +Inf bucket ${last[1]} != _count ${count}`);
    if (sum === undefined) problems.push(`${group}: no _sum`);
  }
  for (const family of families.values()) {
    if (!helps.has(family.name)) problems.push(`${family.name}: no HELP`);
    family.help = libraryFamilies.find((f) => f.name === family.name)?.help ?? '';
  }
  // The library groups lines into families on its own: it must see the same families, in the same order.
  const libraryNames = libraryFamilies.map((f) => f.name).join(' ');
  if (libraryNames !== [...families.keys()].join(' '))
    problems.push(
      `families differ: library sees ${libraryNames}; TYPE lines say ${[...families.keys()].join(' ')}`,
    );

  if (problems.length > 0) throw new Error(`invalid exposition:\n${problems.join('\n')}`);
  return [...families.values()];
}
