/** Grants: who may call which tool, resource or prompt (list, filter, create, revoke). */
import { field, fill, form, h, isoFromLocal, table, time } from './dom.js';

/** @typedef {import('./types.js').Grant} Grant */
/** @typedef {import('./types.js').Tool} Tool */

/** @param {Grant} grant */
function status(grant) {
  if (grant.revokedAt) return 'revoked';
  if (grant.expiresAt && Date.parse(grant.expiresAt) <= Date.now()) return 'expired';
  return 'active';
}

/** @type {import('./types.js').View} */
export async function grantsView({ main, canWrite, api, notify, fail }) {
  const tools = /** @type {Tool[]} */ ((await api('GET', '/admin/tools')).data);
  const list = h('div', { id: 'grants-list' });
  /** @type {Record<string, string | undefined>} */
  let filter = { active: 'true' };

  const load = async () => {
    const grants = /** @type {Grant[]} */ ((await api('GET', '/admin/grants', { query: filter })).data);
    const rows = grants.map((grant) =>
      h(
        'tr',
        { dataset: { grantId: grant.id } },
        h('td', { class: 'agent' }, grant.agentId),
        h('td', { class: 'tool' }, grant.toolName),
        h('td', {}, grant.toolVersion ?? 'any'),
        h('td', {}, grant.grantedBy),
        h('td', {}, time(grant.grantedAt)),
        h('td', {}, grant.expiresAt ? time(grant.expiresAt) : 'never'),
        h('td', {}, h('span', { class: `badge ${status(grant)}` }, status(grant))),
        canWrite && status(grant) === 'active'
          ? h(
              'td',
              {},
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger small',
                  on: {
                    click: () =>
                      void api('DELETE', `/admin/grants/${encodeURIComponent(grant.id)}`)
                        .then(({ auditId }) => {
                          notify(`Revoked ${grant.toolName} from ${grant.agentId}`, auditId);
                          return load();
                        })
                        .catch(fail),
                  },
                },
                'Revoke',
              ),
            )
          : h('td', {}),
      ),
    );
    fill(
      list,
      table(
        ['Agent', 'Tool', 'Version', 'Granted by', 'Granted at', 'Expires', 'Status', ''],
        rows,
        'No grants match.',
      ),
    );
  };

  const filterForm = form(
    { class: 'filters', id: 'grants-filter' },
    async (values) => {
      filter = { agentId: values.agentId, toolName: values.toolName, active: values.active || undefined };
      await load().catch(fail);
    },
    field('Agent', h('input', { name: 'agentId', placeholder: 'any' })),
    field('Tool', h('input', { name: 'toolName', placeholder: 'any' })),
    h(
      'label',
      { class: 'check' },
      h('input', { type: 'checkbox', name: 'active', checked: true }),
      'active only',
    ),
    h('button', { type: 'submit' }, 'Filter'),
  );

  const names = h(
    'datalist',
    { id: 'tool-names' },
    ...[...new Set(tools.map((t) => t.name))].map((n) => h('option', { value: n })),
  );
  const createForm =
    canWrite &&
    form(
      { class: 'card create', id: 'grant-create' },
      async (values, el) => {
        const toolName = values.kind === 'tool' ? values.name : `${values.kind}:${values.name}`;
        try {
          const { auditId } = await api('POST', '/admin/grants', {
            body: {
              agentId: values.agentId,
              toolName,
              ...(values.toolVersion && { toolVersion: values.toolVersion }),
              ...(values.expiresAt && { expiresAt: isoFromLocal(values.expiresAt) }),
            },
          });
          notify(`Granted ${toolName} to ${values.agentId}`, auditId);
          el.reset();
          await load();
        } catch (error) {
          fail(error);
        }
      },
      h('h3', {}, 'New grant'),
      field('Agent', h('input', { name: 'agentId', required: true, maxLength: 255 })),
      field(
        'Kind',
        h(
          'select',
          { name: 'kind' },
          h('option', { value: 'tool' }, 'tool'),
          h('option', { value: 'resource' }, 'resource'),
          h('option', { value: 'prompt' }, 'prompt'),
        ),
      ),
      field('Name', h('input', { name: 'name', required: true, list: 'tool-names' })),
      field('Version', h('input', { name: 'toolVersion', placeholder: 'any' })),
      field('Expires', h('input', { name: 'expiresAt', type: 'datetime-local' })),
      h('button', { type: 'submit' }, 'Grant'),
      names,
    );

  fill(main, h('h2', {}, 'Grants'), createForm || null, filterForm, list);
  await load();
}
