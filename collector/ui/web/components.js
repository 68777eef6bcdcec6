// Small pieces shared by the pages: data loading, the tenant picker, error and
// empty states, a scrollable table region.
import { html } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

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
