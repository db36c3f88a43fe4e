/**
 * The vector selectors of a PromQL expression: which metric each one names and its label matchers. A careful
 * tokenizer, not a full parser (promtool parses every dashboard query in .ci/run). It skips strings, `#`
 * comments, numbers and durations, `[…]` ranges and subqueries, function and aggregation names, keywords, the
 * label lists of `by`/`without`/`on`/`ignoring`/`group_left`/`group_right`, and Grafana variables (`$x`, `${x}`).
 *
 * Limits: a metric named like an aggregation or keyword (`sum`, `on`, `bool`, `offset`…) is not seen as one; a
 * metric must be named by an identifier or a `__name__="…"` equality matcher — a `__name__` regex or a selector
 * with no name at all (`{job="x"}`) throws, since it names no single metric; PromQL 3's quoted names
 * (`{"my.metric"}`) are read, other UTF-8 syntax is not.
 */

export interface LabelMatcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface VectorSelector {
  metric: string;
  matchers: LabelMatcher[];
}

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan', ...LABEL_LISTS]);

const IDENTIFIER = /[A-Za-z_:][A-Za-z0-9_:]*/y;

export function vectorSelectors(expr: string): VectorSelector[] {
  const selectors: VectorSelector[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at offset ${i} of: ${expr}`);
  };
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i])) i++;
  };
  /** Reads a string literal starting at `i` and returns its (unescaped) value. */
  const readString = (): string => {
    const quote = expr[i++];
    let value = '';
    while (i < expr.length && expr[i] !== quote) {
      if (expr[i] === '\\' && quote !== '`') i++;
      value += expr[i++];
    }
    if (i >= expr.length) fail('unterminated string');
    i++;
    return value;
  };
  /** Skips to just after the bracket that closes the one at `i` (no nesting: PromQL has none in these). */
  const skipPast = (close: string) => {
    const end = expr.indexOf(close, i);
    if (end < 0) fail(`missing ${close}`);
    i = end + 1;
  };
  const readIdentifier = (): string => {
    IDENTIFIER.lastIndex = i;
    const match = IDENTIFIER.exec(expr);
    if (!match) return fail('expected a name');
    i += match[0].length;
    return match[0];
  };
  /** `{label op "value", …}` starting at `i`; a bare string is a PromQL 3 metric name. */
  const readMatchers = (selector: { metric?: string; matchers: LabelMatcher[] }) => {
    i++; // {
    for (;;) {
      skipSpace();
      if (expr[i] === '}') break;
      if (expr[i] === '"' || expr[i] === "'") {
        const quoted = readString();
        skipSpace();
        if (expr[i] === ',' || expr[i] === '}') selector.metric = quoted;
        else selector.matchers.push(readMatcher(quoted));
      } else {
        selector.matchers.push(readMatcher(readIdentifier()));
      }
      skipSpace();
      if (expr[i] === ',') i++;
      else if (expr[i] !== '}') fail('expected , or } in label matchers');
    }
    i++; // }
  };
  const readMatcher = (label: string): LabelMatcher => {
    skipSpace();
    const op = /^(=~|!~|!=|=)/.exec(expr.slice(i))?.[1] as LabelMatcher['op'] | undefined;
    if (!op) return fail(`expected a matcher operator after ${label}`);
    i += op.length;
    skipSpace();
    if (!`"'\``.includes(expr[i])) fail(`expected a string after ${label}${op}`);
    return { label, op, value: readString() };
  };
  const finish = (selector: { metric?: string; matchers: LabelMatcher[] }) => {
    const byName = selector.matchers.filter((m) => m.label === '__name__');
    for (const m of byName) {
      if (m.op !== '=') fail(`__name__${m.op} names no single metric`);
      if (selector.metric !== undefined && selector.metric !== m.value) fail('two metric names');
      selector.metric = m.value;
    }
    if (selector.metric === undefined) return fail('a selector without a metric name');
    selectors.push({
      metric: selector.metric,
      matchers: selector.matchers.filter((m) => m.label !== '__name__'),
    });
  };

  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) i++;
    else if (c === '#') i = expr.indexOf('\n', i) < 0 ? expr.length : expr.indexOf('\n', i);
    else if (c === '"' || c === "'" || c === '`') readString();
    else if (c === '[') skipPast(']');
    else if (c === '{') {
      const selector = { matchers: [] as LabelMatcher[] };
      readMatchers(selector);
      finish(selector);
    } else if (c === '$') {
      i++;
      if (expr[i] === '{') skipPast('}');
      else readIdentifier();
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(expr[i + 1] ?? ''))) {
      while (i < expr.length && /[0-9A-Za-z_.]/.test(expr[i])) i++; // 1.5, 1e3, 0x1f, 5m, 1h30m
    } else if (/[A-Za-z_:]/.test(c)) {
      const word = readIdentifier();
      skipSpace();
      const lower = word.toLowerCase();
      if (LABEL_LISTS.has(lower) && expr[i] === '(') skipPast(')');
      // A keyword, an aggregation, or a function (a name before a parenthesis).
      else if (KEYWORDS.has(lower) || AGGREGATIONS.has(lower) || expr[i] === '(') continue;
      else {
        const selector = { metric: word, matchers: [] as LabelMatcher[] };
        if (expr[i] === '{') readMatchers(selector);
        finish(selector);
      }
    } else i++; // operators, parentheses, commas, @
  }
  return selectors;
}
