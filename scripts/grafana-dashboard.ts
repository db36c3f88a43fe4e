/**
 * Reads the PromQL queries out of a Grafana dashboard (deploy/grafana/mcp-production.json) and turns them into a
 * Prometheus recording-rule file, so `promtool check rules` parses every one of them: Grafana cannot run in CI.
 * Used by scripts/grafana-rules.ts (the CLI .ci/run calls) and by test/integration/grafana-dashboard.int-spec.ts.
 */

/** One PromQL query of the dashboard and where it sits (for messages). */
export interface DashboardQuery {
  /** e.g. `panel 12 "Error ratio" target B`, or `variable "instance"`. */
  where: string;
  /** The panel's own id and the target's refId; undefined for variables. */
  panelId?: number;
  refId?: string;
  expr: string;
}

interface Target {
  expr?: string;
  refId?: string;
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  targets?: Target[];
  /** A collapsed row keeps its panels here. */
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
}
export interface Dashboard {
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

/**
 * Every PromQL query of the dashboard: each panel target's `expr` (rows included, collapsed or not), and the
 * metric selector of each `label_values(<selector>, <label>)` query variable. Any other variable query form
 * throws, so a new kind cannot slip past the checks unparsed.
 */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  const visit = (panels: Panel[] = []) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr === undefined) continue;
        queries.push({
          where: `panel ${panel.id} "${panel.title}" target ${target.refId}`,
          panelId: panel.id,
          refId: target.refId,
          expr: target.expr,
        });
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const selector = /^\s*label_values\(\s*(.+),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$/s.exec(query)?.[1];
    if (selector === undefined) throw new Error(`variable "${variable.name}": unsupported query ${query}`);
    queries.push({ where: `variable "${variable.name}"`, expr: selector });
  }
  return queries;
}

/** Grafana's built-in interval variables, as Prometheus would see them for a 1 h dashboard range. */
const BUILT_IN: Readonly<Record<string, string>> = {
  __rate_interval: '5m',
  __interval: '1m',
  __interval_ms: '60000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

/**
 * The query as Prometheus receives it: built-in interval variables become durations, the dashboard's own
 * variables (used inside label-matcher strings, e.g. `job=~"$job"`) become `.*` (their "All" value). A variable
 * the dashboard does not define throws. Forms: `$name`, `${name}`, `${name:format}`.
 */
export function substituteVariables(expr: string, dashboardVariables: ReadonlySet<string>): string {
  return expr.replace(/\$(?:\{(\w+)(?::\w+)?\}|(\w+))/g, (_match, braced?: string, bare?: string) => {
    const name = (braced ?? bare)!;
    if (name in BUILT_IN) return BUILT_IN[name];
    if (dashboardVariables.has(name)) return '.*';
    throw new Error(`unknown Grafana variable $${name} in: ${expr}`);
  });
}

export interface RuleFile {
  groups: { name: string; rules: { record: string; expr: string }[] }[];
}

/**
 * A recording-rule file with one rule per dashboard query, named `grafana:panel_<id>:<refId>` (or
 * `grafana:variable:<name>`), variables substituted. Rules are never loaded into a Prometheus: the file exists
 * so `promtool check rules` parses every query.
 */
export function recordingRules(dashboard: Dashboard): RuleFile {
  const variables = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
  const rules = dashboardQueries(dashboard).map((query) => ({
    record:
      query.panelId === undefined
        ? `grafana:variable:${/"(\w+)"/.exec(query.where)![1]}`
        : `grafana:panel_${query.panelId}:${query.refId}`,
    expr: substituteVariables(query.expr, variables),
  }));
  return { groups: [{ name: 'grafana-dashboard-queries', rules }] };
}
