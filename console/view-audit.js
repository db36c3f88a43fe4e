/** Audit: filter the trail, page through it with the cursor, open one row, export JSON Lines. */
import { field, fill, form, h, isoFromLocal, table, time } from './dom.js';

/** @typedef {import('./types.js').AuditEvent} AuditEvent */
/** @typedef {import('./types.js').AuditPage} AuditPage */

const PAGE_SIZES = ['50', '10', '200'];
const KINDS = ['tool_call', 'denied', 'admin', 'state_change'];
const OUTCOMES = [
  'success',
  'tool_error',
  'invalid_arguments',
  'denied_scope',
  'denied_grant',
  'rate_limited',
  'unknown_tool',
  'error',
];

/** @type {import('./types.js').View} */
export async function auditView({ main, api, notify, fail }) {
  const list = h('div', { id: 'audit-list' });
  const pager = h('div', { class: 'pager' });
  const detail = h('aside', { id: 'audit-detail', class: 'card', hidden: true });
  /** @type {Record<string, string | undefined>} */
  let filter = {};
  /** Cursors of the pages before the current one (undefined: the newest page). */
  /** @type {(string | undefined)[]} */
  let previous = [];
  /** @type {string | undefined} */
  let cursor;
  let limit = PAGE_SIZES[0];

  const load = async () => {
    const page = /** @type {AuditPage} */ (
      (await api('GET', '/admin/audit', { query: { ...filter, limit, cursor } })).data
    );
    const rows = page.items.map((event) =>
      h(
        'tr',
        { class: 'clickable', dataset: { auditId: event.id }, tabIndex: 0, on: { click: () => open(event) } },
        h('td', {}, time(event.occurredAt)),
        h('td', {}, event.kind),
        h('td', { class: 'agent' }, event.agentId ?? '—'),
        h(
          'td',
          { class: 'tool' },
          event.toolName ? `${event.toolName}${event.toolVersion ? `@${event.toolVersion}` : ''}` : '—',
        ),
        h(
          'td',
          {},
          h('span', { class: `badge ${event.outcome === 'success' ? 'active' : 'outcome'}` }, event.outcome),
        ),
        h('td', {}, event.errorCode ?? ''),
        h('td', { class: 'num' }, event.durationMs === null ? '' : event.durationMs.toFixed(1)),
        h('td', { class: 'num mono' }, event.id),
      ),
    );
    fill(
      list,
      table(['Time', 'Kind', 'Agent', 'Tool', 'Outcome', 'Error', 'ms', 'Id'], rows, 'No audit rows match.'),
    );
    fill(
      pager,
      h(
        'button',
        {
          type: 'button',
          class: 'quiet',
          disabled: previous.length === 0,
          on: {
            click: () => {
              cursor = previous.pop();
              void load().catch(fail);
            },
          },
        },
        '← Newer',
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'quiet',
          id: 'audit-older',
          disabled: !page.nextCursor,
          on: {
            click: () => {
              previous.push(cursor);
              cursor = page.nextCursor ?? undefined;
              void load().catch(fail);
            },
          },
        },
        'Older →',
      ),
    );
  };

  /** @param {AuditEvent} event */
  const open = (event) => {
    const fields = Object.entries(event).filter(([name]) => name !== 'detail');
    fill(
      detail,
      h('h3', {}, `Audit row #${event.id}`),
      h(
        'dl',
        {},
        ...fields.flatMap(([name, value]) => [
          h('dt', {}, name),
          h('dd', {}, value === null ? '—' : String(value)),
        ]),
      ),
      event.detail ? h('pre', { class: 'detail-json' }, JSON.stringify(event.detail, null, 2)) : null,
      h('button', { type: 'button', class: 'quiet', on: { click: () => (detail.hidden = true) } }, 'Close'),
    );
    detail.hidden = false;
  };

  const filterForm = form(
    { class: 'filters', id: 'audit-filter' },
    async (values) => {
      filter = {
        agent: values.agent,
        tool: values.tool,
        outcome: values.outcome,
        kind: values.kind,
        from: isoFromLocal(values.from),
        to: isoFromLocal(values.to),
      };
      limit = values.limit;
      previous = [];
      cursor = undefined;
      detail.hidden = true;
      await load().catch(fail);
    },
    field('Agent', h('input', { name: 'agent', placeholder: 'any' })),
    field('Tool', h('input', { name: 'tool', placeholder: 'any' })),
    field('Outcome', h('input', { name: 'outcome', placeholder: 'any', list: 'audit-outcomes' })),
    field(
      'Kind',
      h(
        'select',
        { name: 'kind' },
        h('option', { value: '' }, 'any'),
        ...KINDS.map((k) => h('option', { value: k }, k)),
      ),
    ),
    field('From', h('input', { name: 'from', type: 'datetime-local' })),
    field('To', h('input', { name: 'to', type: 'datetime-local' })),
    field('Rows', h('select', { name: 'limit' }, ...PAGE_SIZES.map((n) => h('option', { value: n }, n)))),
    h('button', { type: 'submit' }, 'Search'),
    h(
      'button',
      {
        type: 'button',
        class: 'quiet',
        id: 'audit-export',
        on: {
          click: () =>
            void api
              .download('/admin/audit/export', filter)
              .then((blob) => {
                const link = h('a', { href: URL.createObjectURL(blob), download: 'audit.jsonl' });
                link.click();
                setTimeout(() => URL.revokeObjectURL(/** @type {HTMLAnchorElement} */ (link).href), 10_000);
                notify(`Exported ${blob.size} bytes of JSON Lines (audit.jsonl)`);
              })
              .catch(fail),
        },
      },
      'Export JSONL',
    ),
    h('datalist', { id: 'audit-outcomes' }, ...OUTCOMES.map((o) => h('option', { value: o }))),
  );

  fill(
    main,
    h('h2', {}, 'Audit'),
    filterForm,
    h('div', { class: 'split' }, h('div', {}, list, pager), detail),
  );
  await load();
}
