/** Token revocations: access tokens refused by their `jti` from the next request on (list, add). */
import { field, fill, form, h, isoFromLocal, table, time } from './dom.js';

/** @typedef {import('./types.js').Revocation} Revocation */

/** @type {import('./types.js').View} */
export async function revocationsView({ main, canWrite, api, notify, fail }) {
  const list = h('div', { id: 'revocations-list' });
  const load = async () => {
    const entries = /** @type {Revocation[]} */ ((await api('GET', '/admin/token-revocations')).data);
    fill(
      list,
      table(
        ['Token (jti)', 'Revoked at', 'Expires', 'Reason'],
        entries.map((entry) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, entry.jti),
            h('td', {}, time(entry.revokedAt)),
            h('td', {}, entry.expiresAt ? time(entry.expiresAt) : 'unknown'),
            h('td', { class: 'reason' }, entry.reason ?? ''),
          ),
        ),
        'No token is revoked.',
      ),
    );
  };
  const addForm =
    canWrite &&
    form(
      { class: 'card create', id: 'revocation-add' },
      async (values, el) => {
        try {
          const { auditId } = await api('POST', '/admin/token-revocations', {
            body: {
              jti: values.jti,
              ...(values.expiresAt && { expiresAt: isoFromLocal(values.expiresAt) }),
              ...(values.reason && { reason: values.reason }),
            },
          });
          notify(`Revoked token ${values.jti}`, auditId);
          el.reset();
          await load();
        } catch (error) {
          fail(error);
        }
      },
      h('h3', {}, 'Revoke a token'),
      field('jti', h('input', { name: 'jti', required: true, maxLength: 255 })),
      field('Token expires', h('input', { name: 'expiresAt', type: 'datetime-local' })),
      field('Reason', h('input', { name: 'reason', maxLength: 500 })),
      h('button', { type: 'submit', class: 'danger' }, 'Revoke'),
    );
  fill(main, h('h2', {}, 'Token revocations'), addForm || null, list);
  await load();
}
