/** Tools: the registry with versions and deprecations, this replica's breaker states, and the kill switches. */
import { fill, form, h, time } from './dom.js';

/** @typedef {import('./types.js').Tool} Tool */
/** @typedef {import('./types.js').Switch} Switch */

/** @type {import('./types.js').View} */
export async function toolsView({ main, canWrite, api, notify, fail }) {
  const body = h('div', { id: 'tools-list' });

  const load = async () => {
    const [tools, switches] = await Promise.all([
      api('GET', '/admin/tools').then(({ data }) => /** @type {Tool[]} */ (data)),
      api('GET', '/admin/tools/disabled').then(({ data }) => /** @type {Switch[]} */ (data)),
    ]);
    const names = [...new Set(tools.map((t) => t.name))].sort();
    /**
     * @param {string} name
     * @param {string | null} version
     * @param {string} reason
     */
    const toggle = (name, version, reason, disable = true) =>
      api('POST', `/admin/tools/${encodeURIComponent(name)}/${disable ? 'disable' : 'enable'}`, {
        body: { ...(version && { version }), ...(reason && { reason }) },
      })
        .then(({ auditId }) => {
          notify(
            `${disable ? 'Switched off' : 'Switched on'} ${name}${version ? `@${version}` : ''}`,
            auditId,
          );
          return load();
        })
        .catch(fail);

    const rows = names.map((name) => {
      const versions = tools.filter((t) => t.name === name);
      const off = switches.filter((s) => s.toolName === name);
      const allOff = off.some((s) => s.toolVersion === null);
      return h(
        'tr',
        { dataset: { tool: name }, class: allOff ? 'switched-off' : undefined },
        h(
          'td',
          { class: 'tool' },
          h('strong', {}, name),
          h('div', { class: 'muted small' }, versions[0]?.title ?? ''),
        ),
        h(
          'td',
          {},
          ...versions.map((v) =>
            h(
              'div',
              { class: 'version' },
              h('span', { class: 'mono' }, v.version),
              v.latest ? h('span', { class: 'badge active' }, 'latest') : null,
              v.deprecated
                ? h(
                    'span',
                    { class: 'badge expired' },
                    `deprecated: sunset ${v.deprecated.sunset}, use ${v.deprecated.replacement}`,
                  )
                : null,
            ),
          ),
        ),
        h(
          'td',
          {},
          ...versions.map((v) =>
            h(
              'div',
              { class: 'version' },
              h(
                'span',
                { class: `badge breaker-${v.breaker.state}`, dataset: { breaker: v.breaker.state } },
                v.breaker.state.replace('_', '-'),
              ),
              v.breaker.retryAfterMs
                ? h(
                    'span',
                    { class: 'muted small' },
                    ` retry in ${Math.ceil(v.breaker.retryAfterMs / 1000)} s`,
                  )
                : null,
            ),
          ),
        ),
        h(
          'td',
          { class: 'switch' },
          off.length === 0 ? h('span', { class: 'badge active', dataset: { switch: 'on' } }, 'on') : null,
          ...off.map((s) =>
            h(
              'div',
              { class: 'switch-entry' },
              h(
                'span',
                { class: 'badge revoked', dataset: { switch: 'off' } },
                s.toolVersion ? `off @${s.toolVersion}` : 'off',
              ),
              h('span', { class: 'reason' }, s.reason ?? ''),
              h('span', { class: 'muted small' }, ` by ${s.disabledBy}, ${time(s.disabledAt)} `),
              canWrite
                ? h(
                    'button',
                    {
                      type: 'button',
                      class: 'small',
                      on: { click: () => void toggle(name, s.toolVersion, '', false) },
                    },
                    'Enable',
                  )
                : null,
            ),
          ),
          canWrite && !allOff
            ? form(
                { class: 'inline disable-form' },
                (values) => toggle(name, null, values.reason),
                h('input', { name: 'reason', placeholder: 'reason', maxLength: 500 }),
                h('button', { type: 'submit', class: 'danger small' }, 'Disable'),
              )
            : null,
        ),
      );
    });
    fill(
      body,
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h('tr', {}, ...['Tool', 'Versions', 'Breaker (this replica)', 'Switch'].map((t) => h('th', {}, t))),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  };
  fill(main, h('h2', {}, 'Tools'), body);
  await load();
}
