/**
 * DOM helpers. Every string from the API (agent ids, reasons, arguments, error messages…) becomes a text node
 * (`append`, `textContent`), never markup: nothing here parses HTML, so hostile data renders inert.
 */

/** Properties that would parse HTML or run code: refused, so that no call site can slip one in. */
const FORBIDDEN = new Set(['innerHTML', 'outerHTML', 'srcdoc']);

/**
 * `h('td', { class: 'id' }, 'text', child)`: an element. Props are DOM properties (`value`, `type`, `hidden`…),
 * `class`, `dataset`, `on` (event listeners) or attributes; children are nodes or strings (as text).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | number | null | undefined | false | (Node | string)[])} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (FORBIDDEN.has(key) || /^on./.test(key)) throw new Error(`h(): refusing property ${key}`);
    if (key === 'on') {
      for (const [event, listener] of Object.entries(/** @type {Record<string, EventListener>} */ (value)))
        el.addEventListener(event, listener);
    } else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'class') el.className = text(value);
    else if (key in el && key !== 'list')
      /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (el))[key] = value;
    else el.setAttribute(key, text(value));
  }
  append(el, children);
  return el;
}

/** @param {unknown} value */
function text(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error('h(): an attribute must be text');
}

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * @param {Element} el
 * @param {(Child | Child[])[]} children
 */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Replaces an element's content.
 * @param {Element} el
 * @param {...(Node | string | null | undefined | false)} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** @param {string | null | undefined} iso */
export function time(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { hour12: false });
}

/** `<input type="datetime-local">` value → ISO 8601 with zone, or undefined when empty. @param {string} value */
export function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : undefined;
}

/**
 * A labelled form field.
 * @param {string} label
 * @param {HTMLElement} input
 */
export function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

/**
 * A table with a header row; `rows` are `<tr>`s.
 * @param {string[]} headings
 * @param {HTMLElement[]} rows
 * @param {string} [empty] text when there are no rows
 */
export function table(headings, rows, empty = 'Nothing here yet.') {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...headings.map((heading) => h('th', {}, heading)))),
    h(
      'tbody',
      {},
      rows.length ? rows : h('tr', {}, h('td', { class: 'muted', colSpan: headings.length }, empty)),
    ),
  );
}

/** The values of a form's named fields (trimmed strings; checkboxes as 'true' / ''). @param {HTMLFormElement} form */
export function formValues(form) {
  /** @type {Record<string, string>} */
  const values = {};
  for (const element of Array.from(form.elements)) {
    if (!(element instanceof HTMLInputElement || element instanceof HTMLSelectElement) || !element.name)
      continue;
    values[element.name] =
      element instanceof HTMLInputElement && element.type === 'checkbox'
        ? element.checked
          ? 'true'
          : ''
        : element.value.trim();
  }
  return values;
}

/**
 * A form whose submit runs `onSubmit` (never a navigation), with its button disabled meanwhile.
 * @param {Record<string, unknown>} props
 * @param {(values: Record<string, string>, form: HTMLFormElement) => Promise<void>} onSubmit
 * @param {...(Node | string)} children
 */
export function form(props, onSubmit, ...children) {
  const el = /** @type {HTMLFormElement} */ (h('form', props, ...children));
  el.addEventListener('submit', (event) => {
    event.preventDefault();
    const buttons = el.querySelectorAll('button');
    buttons.forEach((b) => (b.disabled = true));
    void onSubmit(formValues(el), el).finally(() => buttons.forEach((b) => (b.disabled = false)));
  });
  return el;
}
