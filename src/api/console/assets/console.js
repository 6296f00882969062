// The offboard admin console: one hand-written ES module, no build step. Every call goes to
// /admin/api/*, which the server forwards to the public /v1 API with the session's key; the
// browser never sees the key. The DOM is built with createElement and textContent only, so no
// data from the API is ever parsed as HTML.

const base = '/admin';
let session = null;

// ---------------------------------------------------------------- helpers

/** Creates an element: attributes (`on*` become listeners), then children (strings are text). */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === 'class') element.className = value;
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function clear(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== null && child !== false));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Thrown for an API error: the contract's `{error: {code, message, details}}`. */
class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? 'internal';
    this.details = error?.details;
  }
}

async function request(method, url, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrfToken;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, {
      code: 'network',
      message: 'The service could not be reached. Check your connection and try again.',
    });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text === '' ? null : JSON.parse(text);
  if (response.status === 401 && !url.endsWith('/session')) {
    location.assign(`${base}/sign-in`);
    throw new ApiError(401, data?.error);
  }
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

/** A call to the public API of the session's organization. */
const api = (method, path, body) => request(method, `${base}/api${path}`, body);

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

const dateFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
});
const dateTimeFormat = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

const formatDate = (iso) => (iso ? dateFormat.format(new Date(iso)) : 'Never');
const formatDateTime = (iso) => (iso ? dateTimeFormat.format(new Date(iso)) : '—');
const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

const statusLabels = { active: 'Active', inactive: 'Deactivated', deleted: 'Deleted' };
const roleLabels = { admin: 'Admin', manager: 'Manager', member: 'Member' };

/** A status in a coloured badge: `family` picks the colours (CSS `.badge-*`, `.step-*`, …). */
function badge(family, status, labels) {
  return h('span', { class: `badge ${family}-${status}` }, labels[status] ?? status);
}

const statusBadge = (status) => badge('badge', status, statusLabels);

const displayName = (user) => user.name ?? user.email ?? user.id ?? user.userId;

/** What a refusal means, in a sentence; `who` names the user it was about. */
function describeError(error, who = 'This user') {
  const details = error.details ?? {};
  switch (error.code) {
    case 'team_leader': {
      const teams = Array.isArray(details.teamIds) ? details.teamIds : [];
      return `${who} leads ${plural(teams.length, 'team')}${teams.length ? ` (${teams.join(', ')})` : ''}. Remove them as team leader first, then deactivate them.`;
    }
    case 'higher_role':
      return `${who} has a higher role than you, so you cannot deactivate them.`;
    case 'last_admin':
      return `${who} is the organization's last active admin. Make someone else an admin first.`;
    case 'already_inactive':
      return `${who} is already deactivated.`;
    case 'already_active':
      return `${who} is already active.`;
    case 'deactivation_in_progress':
      return `A deactivation of ${who} is still running. Wait until it completes, then try again.`;
    case 'not_deactivated':
      return `${who} can be deleted only once their deactivation has completed.`;
    case 'self_deactivation':
      return 'You cannot deactivate yourself.';
    case 'user_deleted':
      return `${who} has been deleted.`;
    case 'actor_not_allowed':
      return 'You are not allowed to do this: only active admins and managers of the organization can.';
    case 'actor_mismatch':
      return 'This API key may act only as the user it belongs to.';
    case 'not_held':
      return 'This sweep is no longer waiting for approval.';
    case 'not_found':
      return `${who === 'This user' ? 'It' : who} no longer exists. Reload the page.`;
    case 'too_many_requests': {
      const seconds = details.retryAfterSeconds;
      return `Too many requests right now. Try again${seconds ? ` in ${seconds} seconds` : ' shortly'}.`;
    }
    case 'validation_failed':
      return 'Some fields need attention.';
    case 'service_unavailable':
      return 'The service is briefly unavailable. Try again in a moment.';
    case 'forbidden':
      return `Not allowed: ${error.message}`;
    default:
      return error.message || 'Something went wrong. Try again.';
  }
}

/** Why a bulk skipped someone, in words. */
const skipReasons = {
  higher_role: 'has a higher role than you',
  team_leader: 'leads a team (remove them as team leader first)',
  last_admin: "is the organization's last active admin",
  already_inactive: 'is already deactivated',
  not_found: 'no longer exists',
  self: 'is you',
  exempt_role: 'has a role exempt from sweeps',
};
const describeSkip = (reason) => skipReasons[reason] ?? reason;

function toast(message) {
  const region = document.getElementById('toast');
  if (!region) return;
  region.textContent = message;
  region.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => region.classList.remove('shown'), 6000);
}

function errorBox(message) {
  return h('p', { class: 'error-box', role: 'alert' }, message);
}

function loadingRows(columns, count = 5) {
  return Array.from({ length: count }, () =>
    h(
      'tr',
      { class: 'skeleton', 'aria-hidden': 'true' },
      Array.from({ length: columns }, () => h('td', {}, h('span', { class: 'bar' }))),
    ),
  );
}

function emptyRow(columns, message) {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, message));
}

/**
 * A data table in its scrolling wrapper: the caption (text, shown to screen readers only, or a
 * caption element the page keeps to rename), a head per column (a name, or a `th` the page
 * built), and the rows in `tbody`. `actions` adds a last head for the rows' menus.
 */
function dataTable({ caption, columns, tbody, actions = false, className = 'data' }) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: className },
      caption instanceof Node ? caption : h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((column) =>
            column instanceof Node ? column : h('th', { scope: 'col' }, column),
          ),
          actions
            ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions'))
            : null,
        ),
      ),
      tbody,
    ),
  );
}

/**
 * The paging of a table: `load(reset)` fetches the page after `state.cursor` (from the first
 * one, with skeleton rows, when `reset`), appends it to `state.users` and calls `draw`; "Load
 * more" asks for the next. A filter or tab changed while a page was loading asks again: only the
 * latest request's answer is drawn.
 */
function pagedLoader({ state, main, tbody, more, columns, path, draw, onReset }) {
  let latest = 0;
  async function load(reset) {
    if (reset) {
      state.cursor = null;
      state.users = [];
      clear(tbody, loadingRows(columns));
      onReset?.();
    }
    more.hidden = true;
    main.setAttribute('aria-busy', 'true');
    const ticket = ++latest;
    try {
      const page = await api('GET', path(state.cursor));
      if (ticket !== latest) return;
      state.users.push(...page.items);
      state.cursor = page.nextCursor;
      draw();
    } catch (error) {
      clear(tbody, emptyRow(columns, describeError(error)));
    } finally {
      main.setAttribute('aria-busy', 'false');
    }
  }
  more.addEventListener('click', () => load(false));
  return load;
}

/** A modal dialog: returns it opened; `close()` removes it and gives focus back. */
function openDialog(title, build) {
  const opener = document.activeElement;
  const titleId = `dialog-title-${Math.random().toString(36).slice(2)}`;
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'dialog' });
  const close = () => {
    dialog.close();
    dialog.remove();
    if (opener instanceof HTMLElement) opener.focus();
  };
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    close();
  });
  dialog.append(h('h2', { id: titleId }, title), ...build(close));
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus], input, textarea, select, button.primary');
  if (first instanceof HTMLElement) first.focus();
  return { dialog, close };
}

// ---------------------------------------------------------------- row menu

let openMenu = null;

function closeMenu(focusButton = false) {
  if (!openMenu) return;
  const { menu, button } = openMenu;
  menu.hidden = true;
  button.setAttribute('aria-expanded', 'false');
  if (focusButton) button.focus();
  openMenu = null;
}

document.addEventListener('click', (event) => {
  if (openMenu && !openMenu.wrapper.contains(event.target)) closeMenu();
});

/** A menu button with `items` ({label, action, danger}); arrow keys move, Escape closes. */
function rowMenu(label, items) {
  const menuId = `menu-${Math.random().toString(36).slice(2)}`;
  const button = h(
    'button',
    {
      type: 'button',
      class: 'menu-button',
      'aria-haspopup': 'menu',
      'aria-expanded': 'false',
      'aria-controls': menuId,
      'aria-label': label,
      disabled: items.length === 0,
    },
    h('span', { 'aria-hidden': 'true' }, '⋯'),
  );
  const entries = items.map((item) =>
    h(
      'button',
      {
        type: 'button',
        role: 'menuitem',
        tabindex: '-1',
        class: item.danger ? 'danger-text' : undefined,
        onclick: () => {
          closeMenu(true);
          item.action();
        },
      },
      item.label,
    ),
  );
  const menu = h(
    'div',
    { role: 'menu', id: menuId, class: 'menu', hidden: true, 'aria-label': label },
    entries,
  );
  const wrapper = h('div', { class: 'menu-wrap' }, button, menu);
  const focusEntry = (index) => {
    const count = entries.length;
    entries[((index % count) + count) % count]?.focus();
  };
  const open = (index = 0) => {
    closeMenu();
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    openMenu = { menu, button, wrapper };
    focusEntry(index);
  };
  button.addEventListener('click', () => {
    if (openMenu?.menu === menu) closeMenu();
    else open();
  });
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      open(0);
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      open(entries.length - 1);
    }
  });
  menu.addEventListener('keydown', (event) => {
    const index = entries.indexOf(document.activeElement);
    if (event.key === 'ArrowDown') focusEntry(index + 1);
    else if (event.key === 'ArrowUp') focusEntry(index - 1);
    else if (event.key === 'Home') focusEntry(0);
    else if (event.key === 'End') focusEntry(entries.length - 1);
    else if (event.key === 'Escape' || event.key === 'Tab') closeMenu(event.key === 'Escape');
    else return;
    if (event.key !== 'Tab') event.preventDefault();
  });
  return wrapper;
}

// ---------------------------------------------------------------- Users

const userColumns = ['Name', 'Email', 'Role', 'Status', 'Last login'];

function cell(label, ...content) {
  return h('td', { 'data-label': label }, ...content);
}

function renderUsers(main) {
  const state = { kind: 'employee', cursor: null, users: [] };
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Load more');
  const tabs = [
    ['employee', 'Employees'],
    ['customer', 'Customers'],
  ].map(([kind, label]) =>
    h(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${kind}`,
        'aria-controls': 'users-panel',
        'aria-selected': String(kind === state.kind),
        tabindex: kind === state.kind ? '0' : '-1',
        onclick: () => select(kind),
      },
      label,
    ),
  );
  const tablist = h('div', { role: 'tablist', 'aria-label': 'User kind', class: 'tabs' }, tabs);
  tablist.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
    const next = state.kind === 'employee' ? 'customer' : 'employee';
    select(next);
    document.getElementById(`tab-${next}`)?.focus();
  });
  const caption = h('caption', { class: 'visually-hidden' }, 'Employees');
  const panel = h(
    'div',
    { role: 'tabpanel', id: 'users-panel', 'aria-labelledby': 'tab-employee', class: 'panel' },
    dataTable({ caption, columns: userColumns, tbody, actions: true }),
    h('div', { class: 'table-foot' }, more),
  );
  clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Users')), tablist, panel);

  function select(kind) {
    state.kind = kind;
    for (const tab of tabs) {
      const selected = tab.id === `tab-${kind}`;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    panel.setAttribute('aria-labelledby', `tab-${kind}`);
    caption.textContent = kind === 'employee' ? 'Employees' : 'Customers';
    load(true);
  }

  const load = pagedLoader({
    state,
    main,
    tbody,
    more,
    columns: userColumns.length + 1,
    path: (cursor) => `/users${query({ kind: state.kind, limit: 50, cursor })}`,
    draw,
  });

  function draw() {
    if (state.users.length === 0) {
      clear(
        tbody,
        emptyRow(
          userColumns.length + 1,
          state.kind === 'employee' ? 'No employees yet.' : 'No customers yet.',
        ),
      );
    } else {
      clear(tbody, state.users.map(row));
    }
    more.hidden = state.cursor === null;
  }

  function update(user, changes) {
    Object.assign(user, changes);
    draw();
  }

  function row(user) {
    const who = displayName(user);
    const items = [];
    if (user.status === 'active') {
      items.push({ label: 'Deactivate', action: () => deactivate(user, update) });
    }
    if (user.status === 'inactive') {
      items.push({ label: 'Activate', action: () => activate(user, update) });
      items.push({ label: 'Delete', danger: true, action: () => erase(user, update) });
    }
    return h(
      'tr',
      {},
      cell('Name', h('span', { class: 'name' }, user.name ?? '—')),
      cell('Email', user.email ?? '—'),
      cell('Role', roleLabels[user.role] ?? user.role),
      cell('Status', statusBadge(user.status)),
      cell('Last login', formatDate(user.lastLoginAt)),
      h('td', { class: 'actions' }, rowMenu(`Actions for ${who}`, items)),
    );
  }

  load(true);
}

/** A dialog's buttons: Cancel, then `confirm`. */
function dialogActions(close, confirm) {
  return h(
    'div',
    { class: 'dialog-actions' },
    h('button', { type: 'button', class: 'quiet', onclick: close }, 'Cancel'),
    confirm,
  );
}

/**
 * Runs a confirmed dialog's `act` with `confirm` disabled meanwhile. A refusal shows in `error`,
 * in words about `who`, and enables `confirm` again so the admin can try again.
 */
async function whileConfirming({ confirm, error, who }, act) {
  confirm.disabled = true;
  error.textContent = '';
  try {
    await act();
  } catch (failure) {
    error.textContent = describeError(failure, who);
    confirm.disabled = false;
  }
}

/**
 * The options of a deactivation, single or bulk: a reason, and whether a later purchase may
 * reactivate. `fields` go into the form; `body()` is their part of the request.
 */
function deactivationOptions(idPrefix) {
  const reason = h('textarea', { id: `${idPrefix}-reason`, rows: '2', maxlength: '1000' });
  const allow = h('input', { type: 'checkbox', id: `${idPrefix}-allow` });
  const fields = [
    h('label', { for: `${idPrefix}-reason` }, 'Reason (optional)'),
    reason,
    h(
      'div',
      { class: 'check' },
      allow,
      h('label', { for: `${idPrefix}-allow` }, 'Allow reactivation with future purchases'),
    ),
  ];
  const body = () => ({
    ...(reason.value.trim() ? { reason: reason.value.trim() } : {}),
    allowReactivationOnPurchase: allow.checked,
  });
  return { fields, body };
}

function deactivate(user, update) {
  const who = displayName(user);
  openDialog(`Deactivate ${who}`, (close) => {
    const options = deactivationOptions('deactivate');
    const error = h('p', { class: 'field-error', role: 'alert' });
    const confirm = h('button', { type: 'submit', class: 'primary danger' }, 'Deactivate');
    const form = h(
      'form',
      { method: 'dialog', novalidate: true },
      h(
        'p',
        {},
        `${who} will be signed out everywhere and can no longer sign in. Their tokens are revoked and subscriptions cancelled; an employee's open opportunities go to their team leader.`,
      ),
      options.fields,
      error,
      dialogActions(close, confirm),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      await whileConfirming({ confirm, error, who }, async () => {
        const run = await api('POST', '/deactivations', {
          userId: user.id,
          actorId: session.actorId,
          ...options.body(),
        });
        close();
        update(user, { status: 'inactive', runId: run.id });
        toast(`${who} is deactivated. Their clean-up is running.`);
      });
    });
    return [form];
  });
}

function activate(user, update) {
  const who = displayName(user);
  openDialog(`Activate ${who}`, (close) => {
    const error = h('p', { class: 'field-error', role: 'alert' });
    const confirm = h('button', { type: 'button', class: 'primary' }, 'Activate');
    confirm.addEventListener('click', async () => {
      await whileConfirming({ confirm, error, who }, async () => {
        await api('POST', '/reactivations', { userId: user.id, actorId: session.actorId });
        close();
        update(user, { status: 'active' });
        toast(`${who} is active again.`);
      });
    });
    return [
      h(
        'p',
        {},
        `${who} will be able to sign in again. Revoked sessions, cancelled subscriptions, transferred opportunities and team memberships are not restored.`,
      ),
      error,
      dialogActions(close, confirm),
    ];
  });
}

function erase(user, update) {
  const who = displayName(user);
  const expected = (user.email ?? user.id).trim().toLowerCase();
  openDialog(`Delete ${who}`, (close) => {
    const input = h('input', {
      id: 'delete-confirm',
      type: 'text',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    const error = h('p', { class: 'field-error', role: 'alert' });
    const confirm = h(
      'button',
      { type: 'submit', class: 'primary danger', disabled: true },
      'Delete',
    );
    input.addEventListener('input', () => {
      confirm.disabled = input.value.trim().toLowerCase() !== expected;
    });
    const form = h(
      'form',
      { novalidate: true },
      h(
        'p',
        { class: 'warning' },
        `This cannot be undone. ${who}'s name, email, tokens and subscriptions are erased; only a hash of the email is kept so a blocklist entry keeps working.`,
      ),
      h('label', { for: 'delete-confirm' }, 'Type ', h('strong', {}, expected), ' to confirm'),
      input,
      error,
      dialogActions(close, confirm),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (confirm.disabled) return;
      await whileConfirming({ confirm, error, who }, async () => {
        await api('POST', '/deletions', {
          userId: user.id,
          actorId: session.actorId,
          confirm: user.id,
        });
        close();
        update(user, { status: 'deleted', name: null, email: null });
        toast(`${who} is deleted.`);
      });
    });
    return [form];
  });
}

// ---------------------------------------------------------------- Activity

function renderActivity(main) {
  const state = {
    activity: 'inactive',
    inactiveDays: 90,
    cursor: null,
    users: [],
    selection: { mode: 'none', ids: new Set() },
  };
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Load more');
  const statusFilter = h(
    'select',
    { id: 'status-filter' },
    h('option', { value: 'inactive' }, 'Inactive'),
    h('option', { value: 'never_logged_in' }, 'Never logged in'),
  );
  const days = h('input', {
    id: 'inactive-days',
    type: 'number',
    min: '1',
    max: '3650',
    value: '90',
    inputmode: 'numeric',
  });
  const daysField = h(
    'div',
    { class: 'field inline' },
    h('label', { for: 'inactive-days' }, 'No login for (days)'),
    days,
  );
  const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all' });
  const banner = h('p', { class: 'selection-banner', role: 'status' });
  const count = h('span', { class: 'count' }, 'No users selected');
  const deactivateButton = h(
    'button',
    { type: 'button', class: 'primary danger', disabled: true },
    'Deactivate',
  );
  const columns = ['Name', 'Email', 'Role', 'Last login'];

  clear(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Activity')),
    h(
      'p',
      { class: 'lede' },
      'Find seats nobody uses and deactivate them together. Users are sorted by last login, oldest first.',
    ),
    h(
      'div',
      { class: 'filters' },
      h(
        'div',
        { class: 'field inline' },
        h('label', { for: 'status-filter' }, 'Status'),
        statusFilter,
      ),
      daysField,
    ),
    banner,
    dataTable({
      caption: 'Users by last login',
      columns: [
        h('th', { scope: 'col', class: 'select' }, selectAll),
        'Name',
        'Email',
        'Role',
        h(
          'th',
          { scope: 'col', 'aria-sort': 'ascending' },
          'Last login ',
          h('span', { 'aria-hidden': 'true' }, '↑'),
        ),
      ],
      tbody,
      className: 'data selectable',
    }),
    h('div', { class: 'table-foot' }, more),
    h(
      'div',
      { class: 'action-bar', role: 'region', 'aria-label': 'Selection' },
      count,
      deactivateButton,
    ),
  );

  const load = pagedLoader({
    state,
    main,
    tbody,
    more,
    columns: columns.length + 1,
    path: (cursor) =>
      `/users${query({
        activity: state.activity,
        inactiveDays: state.activity === 'inactive' ? state.inactiveDays : undefined,
        status: 'active',
        sort: 'lastLoginAt',
        limit: 50,
        cursor,
      })}`,
    onReset: () => {
      state.selection = { mode: 'none', ids: new Set() };
      drawSelection();
    },
    draw,
  });

  statusFilter.addEventListener('change', () => {
    state.activity = statusFilter.value;
    daysField.hidden = state.activity !== 'inactive';
    load(true);
  });
  days.addEventListener('change', () => {
    const value = Number(days.value);
    if (Number.isInteger(value) && value >= 1 && value <= 3650) {
      state.inactiveDays = value;
      load(true);
    }
  });
  selectAll.addEventListener('change', () => {
    state.selection = selectAll.checked
      ? { mode: 'all', ids: new Set() }
      : { mode: 'none', ids: new Set() };
    draw();
  });
  deactivateButton.addEventListener('click', () => confirmBulk(state, () => load(true)));

  const filterLabel = () =>
    state.activity === 'never_logged_in'
      ? 'Never logged in'
      : `Inactive (no login for ${state.inactiveDays} days)`;

  function selectedCount() {
    return state.selection.mode === 'ids' ? state.selection.ids.size : 0;
  }

  function drawSelection() {
    const { mode } = state.selection;
    selectAll.checked = mode === 'all';
    selectAll.indeterminate = mode === 'ids' && state.selection.ids.size > 0;
    if (mode === 'all') {
      banner.textContent = `All users matching “${filterLabel()}” are selected: every page, not only the ${plural(state.users.length, 'user')} shown.`;
      count.textContent = 'All matching users selected';
    } else {
      banner.textContent = '';
      const n = selectedCount();
      count.textContent = n === 0 ? 'No users selected' : `${plural(n, 'user')} selected`;
    }
    deactivateButton.disabled = mode === 'none' || (mode === 'ids' && selectedCount() === 0);
  }

  function toggle(user, checked) {
    if (state.selection.mode === 'all') {
      // Unticking one of "all matching" leaves the users shown, minus that one.
      state.selection = { mode: 'ids', ids: new Set(state.users.map((u) => u.id)) };
    }
    if (state.selection.mode === 'none') state.selection = { mode: 'ids', ids: new Set() };
    if (checked) state.selection.ids.add(user.id);
    else state.selection.ids.delete(user.id);
    if (state.selection.ids.size === 0) state.selection = { mode: 'none', ids: new Set() };
    draw();
  }

  function draw() {
    if (state.users.length === 0) {
      clear(tbody, emptyRow(columns.length + 1, `No active users match “${filterLabel()}”.`));
    } else {
      clear(
        tbody,
        state.users.map((user) => {
          const who = displayName(user);
          const checked =
            state.selection.mode === 'all' ||
            (state.selection.mode === 'ids' && state.selection.ids.has(user.id));
          const box = h('input', {
            type: 'checkbox',
            'aria-label': `Select ${who}`,
            checked,
          });
          box.addEventListener('change', () => toggle(user, box.checked));
          return h(
            'tr',
            { class: checked ? 'selected' : undefined },
            h('td', { class: 'select' }, box),
            cell('Name', user.name ?? '—'),
            cell('Email', user.email ?? '—'),
            cell('Role', roleLabels[user.role] ?? user.role),
            cell('Last login', formatDate(user.lastLoginAt)),
          );
        }),
      );
    }
    more.hidden = state.cursor === null;
    drawSelection();
  }

  load(true);
}

/** The selection as the bulk API takes it: the filter for "all matching", else the ids. */
function bulkSelection(state) {
  if (state.selection.mode === 'all') {
    return {
      filter: {
        activity: state.activity,
        inactiveDays: state.inactiveDays,
      },
    };
  }
  return { userIds: [...state.selection.ids] };
}

async function waitForBulk(id, done, onProgress) {
  for (;;) {
    const bulk = await api('GET', `/bulk-deactivations/${encodeURIComponent(id)}`);
    onProgress?.(bulk);
    if (done(bulk)) return bulk;
    await sleep(700);
  }
}

const bulkSettled = (bulk) => bulk.status === 'completed' || bulk.status === 'failed';

function itemLine(item) {
  const who = item.name
    ? `${item.name} (${item.email ?? item.userId})`
    : (item.email ?? item.userId);
  return h(
    'li',
    {},
    h('span', { class: 'who' }, who),
    item.status === 'skipped'
      ? h('span', { class: 'why' }, ` — skipped: ${describeSkip(item.reason)}`)
      : null,
  );
}

function confirmBulk(state, reload) {
  const selection = bulkSelection(state);
  openDialog('Deactivate users', (close) => {
    const summary = h(
      'div',
      { class: 'preview', 'aria-live': 'polite' },
      h('p', {}, 'Checking who would be deactivated…'),
    );
    const skippedList = h('ul', { class: 'people', tabindex: '0', 'aria-label': 'Skipped users' });
    const allList = h('ul', {
      class: 'people',
      hidden: true,
      id: 'selection-list',
      tabindex: '0',
      'aria-label': 'Everyone selected',
    });
    const allMore = h('button', { type: 'button', class: 'quiet', hidden: true }, 'Show more');
    const seeAll = h(
      'button',
      {
        type: 'button',
        class: 'link',
        'aria-expanded': 'false',
        'aria-controls': 'selection-list',
        disabled: true,
      },
      'See all',
    );
    const choices = deactivationOptions('bulk');
    const error = h('p', { class: 'field-error', role: 'alert' });
    const confirm = h(
      'button',
      { type: 'button', class: 'primary danger', disabled: true },
      'Deactivate users',
    );
    const cancel = h('button', { type: 'button', class: 'quiet', onclick: close }, 'Cancel');
    const options = h('div', {}, choices.fields);
    const progress = h('div', { class: 'progress', hidden: true });
    let dryRunId = null;
    let allCursor = null;

    const loadAll = async () => {
      const page = await api(
        'GET',
        `/bulk-deactivations/${encodeURIComponent(dryRunId)}/items${query({ limit: 100, cursor: allCursor })}`,
      );
      allList.append(...page.items.map(itemLine));
      allCursor = page.nextCursor;
      allMore.hidden = allCursor === null;
    };
    seeAll.addEventListener('click', async () => {
      const expanded = seeAll.getAttribute('aria-expanded') === 'true';
      seeAll.setAttribute('aria-expanded', String(!expanded));
      seeAll.textContent = expanded ? 'See all' : 'Hide the list';
      allList.hidden = expanded;
      if (!expanded && allList.childElementCount === 0) {
        try {
          await loadAll();
        } catch (failure) {
          error.textContent = describeError(failure);
        }
      }
    });
    allMore.addEventListener('click', () => {
      loadAll().catch((failure) => {
        error.textContent = describeError(failure);
      });
    });

    (async () => {
      try {
        const accepted = await api('POST', '/bulk-deactivations', {
          actorId: session.actorId,
          ...selection,
          dryRun: true,
        });
        dryRunId = accepted.id;
        const bulk = await waitForBulk(accepted.id, bulkSettled);
        if (bulk.status === 'failed')
          throw new ApiError(500, { message: 'The preview failed. Try again.' });
        const reasons = Object.entries(bulk.skippedByReason);
        clear(
          summary,
          h(
            'p',
            { class: 'big' },
            bulk.planned === 0
              ? 'Nobody in this selection can be deactivated.'
              : `${plural(bulk.planned, 'user')} will be deactivated.`,
          ),
          bulk.skipped > 0
            ? h(
                'p',
                {},
                `${plural(bulk.skipped, 'user')} will be skipped: `,
                reasons
                  .map(([why, n], index) => `${index ? '; ' : ''}${n} ${describeSkip(why)}`)
                  .join(''),
                '.',
              )
            : h('p', {}, 'Nobody will be skipped.'),
        );
        if (bulk.skipped > 0) {
          const skipped = await api(
            'GET',
            `/bulk-deactivations/${encodeURIComponent(accepted.id)}/items${query({ status: 'skipped', limit: 20 })}`,
          );
          clear(skippedList, skipped.items.map(itemLine));
          summary.append(h('h3', {}, 'Skipped'), skippedList);
        }
        seeAll.disabled = false;
        confirm.disabled = bulk.planned === 0;
      } catch (failure) {
        clear(summary, errorBox(describeError(failure)));
      }
    })();

    confirm.addEventListener('click', async () => {
      await whileConfirming({ confirm, error }, async () => {
        const accepted = await api('POST', '/bulk-deactivations', {
          actorId: session.actorId,
          ...selection,
          dryRun: false,
          ...choices.body(),
        });
        options.hidden = true;
        seeAll.hidden = true;
        allList.hidden = true;
        allMore.hidden = true;
        confirm.hidden = true;
        cancel.textContent = 'Close';
        progress.hidden = false;
        const bar = h('progress', { id: 'bulk-progress', max: '1', value: '0' });
        const label = h('label', { for: 'bulk-progress' }, 'Progress');
        const text = h('p', { role: 'status', class: 'progress-text' }, 'Starting…');
        clear(progress, label, bar, text);
        const finished = (bulk) =>
          bulkSettled(bulk) && bulk.completedRuns + bulk.failedRuns >= bulk.enqueued;
        const bulk = await waitForBulk(accepted.id, finished, (current) => {
          const total = Math.max(current.matched - current.skipped, current.enqueued, 1);
          bar.max = total;
          bar.value = current.completedRuns;
          const done = `${plural(current.completedRuns, 'user')} deactivated${current.failedRuns ? `, ${current.failedRuns} failed` : ''}, ${current.skipped} skipped.`;
          text.textContent = !finished(current)
            ? `Deactivated ${current.completedRuns} of ${total}…`
            : current.status === 'failed'
              ? `Stopped (${current.error ?? 'the bulk deactivation failed'}): ${done}`
              : `Done: ${done}`;
        });
        toast(
          bulk.status === 'failed'
            ? `Bulk deactivation stopped: ${plural(bulk.completedRuns, 'user')} deactivated.`
            : `Bulk deactivation finished: ${plural(bulk.completedRuns, 'user')} deactivated.`,
        );
        reload();
      });
    });

    return [
      summary,
      h('div', { class: 'see-all' }, seeAll),
      allList,
      allMore,
      options,
      progress,
      error,
      h('div', { class: 'dialog-actions' }, cancel, confirm),
    ];
  });
}

// ---------------------------------------------------------------- Runs

const stepStatusLabels = {
  pending: 'Pending',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  skipped: 'Skipped',
};

function describeResult(result) {
  if (!result) return '—';
  return Object.entries(result)
    .map(([name, value]) => `${name}: ${value === null ? '—' : String(value)}`)
    .join(', ');
}

function jobLink(queue, jobId, label) {
  if (!session.queueDashboard) return null;
  return h(
    'a',
    { href: `/admin/queues/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}` },
    label,
  );
}

async function renderRuns(main) {
  const tbody = h('tbody', {}, loadingRows(5));
  clear(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Runs')),
    h('p', { class: 'lede' }, 'Every deactivation, newest first.'),
    dataTable({
      caption: 'Deactivation runs',
      columns: ['Run', 'User', 'Source', 'Status', 'Started'],
      tbody,
    }),
  );
  try {
    const page = await api('GET', `/deactivations${query({ limit: 50 })}`);
    if (page.items.length === 0) clear(tbody, emptyRow(5, 'No deactivations yet.'));
    else
      clear(
        tbody,
        page.items.map((run) =>
          h(
            'tr',
            {},
            cell('Run', h('a', { href: `${base}/runs/${encodeURIComponent(run.id)}` }, run.id)),
            cell('User', run.userId),
            cell('Source', run.source),
            cell('Status', badge('step', run.status, stepStatusLabels)),
            cell('Started', formatDateTime(run.createdAt)),
          ),
        ),
      );
  } catch (error) {
    clear(tbody, emptyRow(5, describeError(error)));
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

async function renderRun(main, runId) {
  const heading = h('h1', {}, `Run ${runId}`);
  const facts = h('dl', { class: 'facts' });
  const tbody = h('tbody', {}, loadingRows(6, 5));
  const live = h('p', { class: 'live', role: 'status' });
  clear(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: `${base}/runs` }, '← Runs')),
    h('div', { class: 'page-head' }, heading),
    facts,
    live,
    dataTable({
      caption: 'Steps',
      columns: ['Step', 'Status', 'Attempts', 'Result', 'Error', 'Job'],
      tbody,
    }),
  );
  for (;;) {
    let run;
    try {
      run = await api('GET', `/deactivations/${encodeURIComponent(runId)}`);
    } catch (error) {
      clear(tbody, emptyRow(6, describeError(error)));
      main.setAttribute('aria-busy', 'false');
      return;
    }
    const fact = (name, value) => [h('dt', {}, name), h('dd', {}, value)];
    clear(
      facts,
      fact('User', run.userId),
      fact('Status', badge('step', run.status, stepStatusLabels)),
      fact('Source', run.source),
      fact('Started', formatDateTime(run.createdAt)),
      fact('Completed', formatDateTime(run.completedAt)),
      fact(
        'Queue',
        jobLink('deactivations', `run-${run.id}`, 'Open the run’s job in the queue dashboard') ??
          'Queue dashboard is off',
      ),
    );
    clear(
      tbody,
      run.steps.map((step) =>
        h(
          'tr',
          {},
          cell('Step', h('code', {}, step.name)),
          cell('Status', badge('step', step.status, stepStatusLabels)),
          cell('Attempts', String(step.attempts)),
          cell('Result', describeResult(step.result)),
          cell('Error', step.error ?? '—'),
          cell(
            'Job',
            step.status === 'skipped'
              ? '—'
              : (jobLink('deactivation-steps', `run-${run.id}-${step.name}`, `Open job`) ?? '—'),
          ),
        ),
      ),
    );
    main.setAttribute('aria-busy', 'false');
    const settled = run.status === 'completed' || run.status === 'failed';
    live.textContent = settled ? '' : 'Updating live…';
    if (settled) return;
    await sleep(1000);
  }
}

// ---------------------------------------------------------------- Sweeps

const policyFields = [
  {
    name: 'inactiveDays',
    label: 'Deactivate after this many days without login',
    type: 'number',
    min: 30,
    hint: 'At least 30.',
  },
  {
    name: 'neverLoggedInDays',
    label: 'Deactivate users who never logged in after (days)',
    type: 'number',
    min: 1,
    hint: 'Leave empty to keep them.',
    optional: true,
  },
  {
    name: 'cron',
    label: 'Schedule (cron)',
    type: 'text',
    hint: 'For example 0 3 * * * for every night at 03:00.',
  },
  { name: 'timezone', label: 'Timezone', type: 'text', hint: 'For example Europe/Paris.' },
  {
    name: 'maxPerRun',
    label: 'Hold a sweep that would deactivate more than',
    type: 'number',
    min: 1,
    hint: 'A held sweep waits for an admin to approve it.',
  },
];

const sweepStatusLabels = {
  running: 'Running',
  held: 'Held',
  approved: 'Approved',
  completed: 'Completed',
  dry_run: 'Dry run',
  failed: 'Failed',
};

async function renderSweeps(main) {
  const inputs = {};
  const errors = {};
  const fieldNodes = policyFields.map((field) => {
    const id = `policy-${field.name}`;
    const input = h('input', {
      id,
      name: field.name,
      type: field.type,
      min: field.min,
      inputmode: field.type === 'number' ? 'numeric' : undefined,
      'aria-describedby': `${id}-hint ${id}-error`,
    });
    inputs[field.name] = input;
    errors[field.name] = h('p', { class: 'field-error', id: `${id}-error` });
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id }, field.label),
      input,
      h('p', { class: 'hint', id: `${id}-hint` }, field.hint),
      errors[field.name],
    );
  });
  const enabled = h('input', { type: 'checkbox', id: 'policy-enabled' });
  const dryRun = h('input', { type: 'checkbox', id: 'policy-dryRun' });
  const roles = ['admin', 'manager', 'member'].map((role) =>
    h('input', { type: 'checkbox', id: `exempt-${role}`, value: role }),
  );
  errors.exemptRoles = h('p', { class: 'field-error', id: 'policy-exempt-error' });
  const formError = h('p', { class: 'field-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save policy');
  // Disabled until the stored policy is in, so nothing typed early is overwritten by it.
  const fields = h('fieldset', { class: 'plain', disabled: true });
  const form = h(
    'form',
    { class: 'policy', novalidate: true, 'aria-labelledby': 'policy-title' },
    h('h2', { id: 'policy-title' }, 'Sweep policy'),
    fields,
  );
  fields.append(
    h(
      'div',
      { class: 'check' },
      enabled,
      h('label', { for: 'policy-enabled' }, 'Run sweeps on this schedule'),
    ),
    ...fieldNodes,
    h(
      'fieldset',
      { 'aria-describedby': 'policy-exempt-error' },
      h('legend', {}, 'Never sweep these roles'),
      roles.map((box) =>
        h('div', { class: 'check' }, box, h('label', { for: box.id }, roleLabels[box.value])),
      ),
      errors.exemptRoles,
    ),
    h(
      'div',
      { class: 'check' },
      dryRun,
      h('label', { for: 'policy-dryRun' }, 'Dry run only: report, deactivate nobody'),
    ),
    formError,
    h('div', { class: 'form-actions' }, save),
  );
  const tbody = h('tbody', {}, loadingRows(7, 3));
  clear(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Sweeps')),
    h('p', { class: 'lede' }, 'Deactivate dormant accounts automatically, on a schedule.'),
    h(
      'div',
      { class: 'two-columns' },
      form,
      h(
        'section',
        { 'aria-labelledby': 'reports-title' },
        h('h2', { id: 'reports-title' }, 'Reports'),
        dataTable({
          caption: 'Sweep reports',
          columns: ['Started', 'Status', 'Matched', 'Deactivated', 'Skipped', 'Held'],
          tbody,
          actions: true,
        }),
      ),
    ),
  );

  const showErrors = (byField) => {
    for (const [name, node] of Object.entries(errors)) {
      const message = byField[name];
      node.textContent = message ?? '';
      const input = inputs[name];
      if (input) {
        if (message) input.setAttribute('aria-invalid', 'true');
        else input.removeAttribute('aria-invalid');
      }
    }
  };

  const fill = (policy) => {
    const value = policy ?? {
      enabled: false,
      inactiveDays: 90,
      neverLoggedInDays: null,
      exemptRoles: [],
      cron: '0 3 * * *',
      timezone: 'UTC',
      dryRun: false,
      maxPerRun: 500,
    };
    enabled.checked = value.enabled;
    dryRun.checked = value.dryRun;
    for (const field of policyFields) inputs[field.name].value = value[field.name] ?? '';
    for (const box of roles) box.checked = value.exemptRoles.includes(box.value);
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const local = {};
    const number = (name) => {
      const raw = inputs[name].value.trim();
      if (raw === '') return null;
      const value = Number(raw);
      if (!Number.isInteger(value)) local[name] = 'Enter a whole number.';
      return value;
    };
    const policy = {
      enabled: enabled.checked,
      inactiveDays: number('inactiveDays'),
      neverLoggedInDays: number('neverLoggedInDays'),
      exemptRoles: roles.filter((box) => box.checked).map((box) => box.value),
      cron: inputs.cron.value.trim(),
      timezone: inputs.timezone.value.trim(),
      dryRun: dryRun.checked,
      maxPerRun: number('maxPerRun'),
    };
    if (policy.inactiveDays === null) local.inactiveDays = 'Enter a number of days (30 or more).';
    else if (!local.inactiveDays && policy.inactiveDays < 30)
      local.inactiveDays = 'Must be 30 days or more.';
    if (policy.maxPerRun === null)
      local.maxPerRun = 'Enter how many a sweep may deactivate before it is held.';
    if (policy.cron === '') local.cron = 'Enter a schedule.';
    if (policy.timezone === '') local.timezone = 'Enter a timezone, for example UTC.';
    showErrors(local);
    formError.textContent = '';
    if (Object.keys(local).length > 0) {
      formError.textContent = 'Some fields need attention.';
      inputs[Object.keys(local)[0]]?.focus();
      return;
    }
    save.disabled = true;
    try {
      const stored = await api('PUT', '/sweep-policy', policy);
      fill(stored);
      toast('Sweep policy saved.');
    } catch (failure) {
      if (failure.code === 'validation_failed' && Array.isArray(failure.details)) {
        const byField = {};
        for (const issue of failure.details) {
          const name = issue.path?.[1];
          if (typeof name === 'string' && !byField[name]) byField[name] = issue.message;
        }
        showErrors(byField);
        const first = Object.keys(byField)[0];
        if (first && inputs[first]) inputs[first].focus();
      }
      formError.textContent = describeError(failure);
    } finally {
      save.disabled = false;
    }
  });

  const loadReports = async () => {
    try {
      const page = await api('GET', `/sweeps${query({ limit: 20 })}`);
      if (page.items.length === 0) {
        clear(tbody, emptyRow(7, 'No sweeps have run yet.'));
        return;
      }
      clear(
        tbody,
        page.items.map((sweep) => {
          const skipped = Object.values(sweep.skippedByReason).reduce((sum, n) => sum + n, 0);
          const approve =
            sweep.status === 'held'
              ? h(
                  'button',
                  {
                    type: 'button',
                    class: 'primary small',
                    'aria-label': `Approve the sweep of ${formatDateTime(sweep.startedAt)}`,
                  },
                  'Approve',
                )
              : null;
          approve?.addEventListener('click', async () => {
            approve.disabled = true;
            try {
              await api('POST', `/sweeps/${encodeURIComponent(sweep.id)}/approve`);
              toast('Sweep approved: it deactivates its selection now.');
              await loadReports();
            } catch (failure) {
              toast(describeError(failure));
              approve.disabled = false;
            }
          });
          return h(
            'tr',
            {},
            cell('Started', formatDateTime(sweep.startedAt)),
            cell('Status', badge('sweep', sweep.status, sweepStatusLabels)),
            cell('Matched', String(sweep.matched)),
            cell('Deactivated', String(sweep.deactivated)),
            cell('Skipped', String(skipped)),
            cell('Held', sweep.held ? `Yes (over ${sweep.maxPerRun})` : 'No'),
            h('td', { class: 'actions' }, approve),
          );
        }),
      );
    } catch (error) {
      clear(tbody, emptyRow(7, describeError(error)));
    }
  };

  try {
    fill(await api('GET', '/sweep-policy'));
  } catch (error) {
    fill(null);
    formError.textContent = describeError(error);
  }
  fields.disabled = false;
  await loadReports();
  main.setAttribute('aria-busy', 'false');
}

// ---------------------------------------------------------------- Choose

async function renderChoose(main) {
  main.setAttribute('aria-busy', 'false');
  const error = h('p', { class: 'field-error', role: 'alert' });
  if (session.orgId === null) {
    const radios = session.organizations.map((org, index) =>
      h(
        'div',
        { class: 'check' },
        h('input', {
          type: 'radio',
          name: 'org',
          id: `org-${index}`,
          value: org.id,
          checked: index === 0,
        }),
        h(
          'label',
          { for: `org-${index}` },
          org.name,
          h('span', { class: 'muted' }, ` (${org.id})`),
        ),
      ),
    );
    const form = h(
      'form',
      { class: 'narrow' },
      h('fieldset', {}, h('legend', {}, 'Organization'), radios),
      error,
      h('button', { type: 'submit', class: 'primary' }, 'Continue'),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const picked = form.querySelector('input[name=org]:checked');
      try {
        session = await request('PUT', `${base}/session`, { orgId: picked.value });
        location.assign(session.actorId === null ? `${base}/choose` : `${base}/users`);
      } catch (failure) {
        error.textContent = describeError(failure);
      }
    });
    clear(
      main,
      h('h1', {}, 'Choose an organization'),
      h('p', {}, 'Your API key opens several organizations. Which one do you want to manage?'),
      form,
    );
    return;
  }
  const select = h('select', { id: 'actor' });
  const form = h(
    'form',
    { class: 'narrow' },
    h('label', { for: 'actor' }, 'Acting as'),
    select,
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Continue'),
  );
  clear(
    main,
    h('h1', {}, 'Who is acting?'),
    h(
      'p',
      {},
      'Your API key is not tied to a person. Choose the admin or manager your changes are recorded for.',
    ),
    form,
  );
  try {
    const page = await api(
      'GET',
      `/users${query({ kind: 'employee', status: 'active', limit: 200 })}`,
    );
    const candidates = page.items.filter(
      (user) => user.role === 'admin' || user.role === 'manager',
    );
    if (candidates.length === 0)
      error.textContent = 'This organization has no active admin or manager.';
    clear(
      select,
      candidates.map((user) =>
        h('option', { value: user.id }, `${displayName(user)} (${roleLabels[user.role]})`),
      ),
    );
  } catch (failure) {
    error.textContent = describeError(failure);
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      session = await request('PUT', `${base}/session`, { actorId: select.value });
      location.assign(`${base}/users`);
    } catch (failure) {
      error.textContent = describeError(failure);
    }
  });
}

// ---------------------------------------------------------------- start

function startSignIn() {
  const form = document.getElementById('sign-in-form');
  const input = document.getElementById('api-key');
  const error = document.getElementById('sign-in-error');
  const button = form.querySelector('button');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const key = input.value.trim();
    if (key === '') {
      error.textContent = 'Enter your API key.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const response = await fetch(`${base}/session`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' },
        credentials: 'same-origin',
      });
      const data = await response.json();
      if (!response.ok) throw new ApiError(response.status, data.error);
      input.value = '';
      const ready = data.orgId !== null && data.actorId !== null;
      location.assign(ready ? `${base}/users` : `${base}/choose`);
    } catch (failure) {
      error.textContent =
        failure.code === 'unauthorized'
          ? 'This API key is not valid. Check it and try again.'
          : failure.code === 'forbidden'
            ? `This API key cannot open the console: ${failure.message}.`
            : describeError(failure);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      button.disabled = false;
    }
  });
}

async function start() {
  const path = location.pathname.replace(/\/+$/, '');
  if (path === `${base}/sign-in`) {
    startSignIn();
    return;
  }
  const main = document.getElementById('main');
  try {
    session = await request('GET', `${base}/session`);
  } catch {
    location.assign(`${base}/sign-in`);
    return;
  }
  document.getElementById('org-name').textContent = session.orgName ?? '';
  document.getElementById('sign-out').addEventListener('click', async () => {
    try {
      await request('DELETE', `${base}/session`);
    } finally {
      location.assign(`${base}/sign-in`);
    }
  });
  for (const link of document.querySelectorAll('nav a')) {
    if (path.startsWith(link.getAttribute('href'))) link.setAttribute('aria-current', 'page');
  }
  const titles = {
    users: 'Users',
    activity: 'Activity',
    runs: 'Runs',
    sweeps: 'Sweeps',
    choose: 'Sign in',
  };
  const [, , screen, id] = path.split('/');
  document.title = `${titles[screen] ?? 'Console'} · offboard admin`;
  if (screen === 'choose') await renderChoose(main);
  else if (screen === 'activity') renderActivity(main);
  else if (screen === 'runs' && id) await renderRun(main, decodeURIComponent(id));
  else if (screen === 'runs') await renderRuns(main);
  else if (screen === 'sweeps') await renderSweeps(main);
  else renderUsers(main);
}

start();
