// Small pieces shared by the pages: data loading, the tenant picker, error and
// empty states, a scrollable table region, modal dialogs, secrets shown once,
// what the signed-in operator's role allows.
import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';

/**
 * A card with a one-row form that creates something (a tenant, an operator):
 * `action()` runs on submit with the button disabled; its error is shown
 * under the form with `failed` as the title.
 */
export function CreateForm({ id, title, submitLabel, failed, action, children }) {
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section aria-labelledby=${`${id}-h`} class="card">
    <h2 id=${`${id}-h`}>${title}</h2>
    <form class="row" onSubmit=${submit}>
      ${children}
      <div class="field field-button">
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Creating…' : submitLabel}</button>
      </div>
    </form>
    <${ErrorBox} error=${error} title=${failed} />
  </section>`;
}

/** Whether the signed-in operator (GET /api/session) has `permission`. The API checks again: this only decides what the page offers. */
export const can = (me, permission) => me?.permissions?.includes(permission) === true;

/** Roles that have each permission, for saying whom to ask (collector/api/access.ts). */
const NEEDS = {
  'tenants:write': 'admin or operator',
  'tiers:write': 'admin or operator',
  erasure: 'admin or privacy',
  export: 'admin or privacy',
  operators: 'admin',
};

/**
 * What the page does not offer the signed-in operator, and why: `missing` is a
 * list of [permission, what it does]; nothing is shown when the role has them all.
 */
export function RoleNote({ me, missing, id }) {
  const lacking = missing.filter(([p]) => !can(me, p));
  if (lacking.length === 0) return null;
  return html`<p class="role-note" id=${id}>
    Signed in as <strong>${me.name}</strong> (role ${me.role}): ${lacking.map(([p, what], i) => html`${i > 0 ? '; ' : ''}${what} needs the role ${NEEDS[p]}`)}. Those actions are not offered here.
  </p>`;
}

/** Loads `load()` when `deps` change; { data, error, loading, reload }. Stale answers are ignored. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: undefined }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { ...state, reload };
}

/** The tenants with their tier assignment (tier, until, priorTier). */
export async function loadTenants() {
  const { tenants } = await api('/api/tenants');
  const tiers = await Promise.all(tenants.map((t) => api(`/api/tenants/${encodeURIComponent(t.id)}/tier`).catch(() => undefined)));
  return tenants.map((t, i) => ({ ...t, assignment: tiers[i] })).sort((a, b) => a.id.localeCompare(b.id));
}

export function ErrorBox({ error, title = 'The request failed' }) {
  if (!error) return null;
  return html`<div class="error-box" role="alert">
    <strong>${title}${error.code ? html` <code>${error.code}</code>` : ''}</strong>
    <p>${error.message}</p>
  </div>`;
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="muted" role="status">${what}…</p>`;
}

/** A heading that takes focus after navigation (tabindex -1: focusable by script only). */
export function PageTitle({ children }) {
  return html`<h1 tabindex="-1">${children}</h1>`;
}

/** A labelled select of tenant ids that navigates to `#/<page>/<tenant>`. */
export function TenantPicker({ page, tenant, tenants, extra = '' }) {
  const go = (e) => {
    const id = e.currentTarget.value;
    location.hash = id ? `#/${page}/${encodeURIComponent(id)}${extra}` : `#/${page}`;
  };
  return html`<div class="field">
    <label for="tenant-pick">Tenant</label>
    <select id="tenant-pick" value=${tenant ?? ''} onChange=${go}>
      <option value="">Choose a tenant…</option>
      ${tenants.map((t) => html`<option value=${t.id}>${t.id} (${t.tier})</option>`)}
      ${tenant && tenants.length > 0 && !tenants.some((t) => t.id === tenant) && html`<option value=${tenant}>${tenant} (not listed)</option>`}
    </select>
  </div>`;
}

/** A table in a region that scrolls sideways on narrow screens, reachable by keyboard. */
export function TableRegion({ label, children }) {
  return html`<div class="table-scroll" role="region" aria-label=${label} tabindex="0">${children}</div>`;
}

/**
 * Opens `dialog` as a modal on mount; its closing (Escape, Cancel, or after
 * success) calls onClose(undefined). While `busy`, Escape does not close it:
 * the answer of a running change must not be lost.
 */
export function useModal(dialog, onClose, busy) {
  const busyNow = useRef(busy);
  busyNow.current = busy;
  useEffect(() => {
    const d = dialog.current;
    d.showModal();
    const closed = () => onClose(undefined);
    const cancel = (e) => {
      if (busyNow.current) e.preventDefault();
    };
    d.addEventListener('close', closed);
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('close', closed);
      d.removeEventListener('cancel', cancel);
    };
  }, []);
}


/**
 * Secrets shown once (a tenant's keys, an operator's token): focused when they
 * appear, a warning, each secret with a copy button, and the button that says
 * they are stored. `secrets`: [{ id, label, value }].
 */
export function ShownOnce({ id, title, warning, secrets, done, onDone }) {
  const box = useRef(null);
  useEffect(() => box.current?.focus(), [title]);
  return html`<section class="keys card" aria-labelledby=${`${id}-h`} ref=${box} tabindex="-1" id=${id}>
    <h2 id=${`${id}-h`}>${title}</h2>
    <p class="warning" role="alert">${warning}</p>
    ${secrets.map((k) => html`<${KeyField} id=${k.id} label=${k.label} value=${k.value} />`)}
    <button type="button" onClick=${onDone}>${done}</button>
  </section>`;
}

/** A secret shown once, with a copy button. */
function KeyField({ id, label, value }) {
  const [status, setStatus] = useState('');
  const input = useRef(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setStatus('Copied.');
    } catch {
      // No clipboard permission (plain http on another host, or a locked-down browser): select it for Ctrl+C.
      input.current?.select();
      setStatus('Selected: press Ctrl+C (⌘C) to copy.');
    }
  };
  return html`<div class="field key-field">
    <label for=${id}>${label}</label>
    <div class="key-row">
      <input id=${id} ref=${input} readonly value=${value} spellcheck="false" onFocus=${(e) => e.currentTarget.select()} />
      <button type="button" onClick=${copy} aria-describedby=${`${id}-status`}>Copy<span class="sr-only"> ${label}</span></button>
    </div>
    <span id=${`${id}-status`} class="hint" role="status">${status}</span>
  </div>`;
}
