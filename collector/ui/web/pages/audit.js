// Audit of one tenant: tier changes (GET /api/tenants/:id/audit) and erasures
// (GET /api/tenants/:id/erasures), newest first.
import { html } from 'htm/preact';
import { api, enc } from '../api.js';
import { ErrorBox, Loading, PageTitle, TableRegion, TenantPicker, loadTenants, useLoad } from '../components.js';
import { fmtInt, fmtTime } from '../format.js';

export function AuditPage({ tenant }) {
  const tenants = useLoad(loadTenants, []);
  const tiers = useLoad(async () => (tenant ? (await api(`/api/tenants/${enc(tenant)}/audit`)).audit.slice().reverse() : undefined), [tenant]);
  const erasures = useLoad(async () => (tenant ? (await api(`/api/tenants/${enc(tenant)}/erasures`)).erasures : undefined), [tenant]);
  return html`
    <${PageTitle}>Audit${tenant ? html` <span class="muted">· ${tenant}</span>` : ''}<//>
    <div class="toolbar"><${TenantPicker} page="audit" tenant=${tenant} tenants=${tenants.data ?? []} /></div>
    <${ErrorBox} error=${tenants.error} />
    ${!tenant && html`<p class="empty">Choose a tenant to see its tier changes and erasures.</p>`}
    ${tenant &&
    html`<section class="card" aria-labelledby="tier-audit-h">
        <h2 id="tier-audit-h">Tier changes</h2>
        <${ErrorBox} error=${tiers.error} />
        ${tiers.loading && !tiers.data && html`<${Loading} />`}
        ${tiers.data?.length === 0 && html`<p class="empty">No tier changes recorded.</p>`}
        ${tiers.data?.length > 0 &&
        html`<${TableRegion} label="Tier changes">
          <table class="data" id="tier-audit">
            <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Until</th><th scope="col">Reason</th></tr></thead>
            <tbody>
              ${tiers.data.map(
                (a) => html`<tr>
                  <td>${fmtTime(a.at)}</td>
                  <td>${a.actor}</td>
                  <td>${a.action}</td>
                  <td>${a.from ? html`<span class="tier">${a.from}</span>` : html`<span class="muted">–</span>`}</td>
                  <td><span class="tier">${a.to}</span></td>
                  <td>${a.until ? fmtTime(a.until) : html`<span class="muted">permanent</span>`}</td>
                  <td class="wrap">${a.reason}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        <//>`}
      </section>
      <section class="card" aria-labelledby="erasures-h">
        <h2 id="erasures-h">Erasures</h2>
        <${ErrorBox} error=${erasures.error} />
        ${erasures.loading && !erasures.data && html`<${Loading} />`}
        ${erasures.data?.length === 0 && html`<p class="empty">No erasures recorded.</p>`}
        ${erasures.data?.length > 0 &&
        html`<${TableRegion} label="Erasures">
          <table class="data" id="erasures">
            <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Scope</th><th scope="col">Subject</th><th scope="col">Reason</th><th scope="col" class="num">Rows erased</th></tr></thead>
            <tbody>
              ${erasures.data.map(
                (e) => html`<tr>
                  <td>${fmtTime(e.at)}</td>
                  <td>${e.actor}</td>
                  <td>${e.scope}</td>
                  <td>${e.subject || html`<span class="muted">–</span>`}</td>
                  <td class="wrap">${e.reason}</td>
                  <td class="num">${fmtInt(Object.values(e.rows ?? {}).reduce((s, v) => s + Number(v), 0))}<br /><span class="muted small">${Object.entries(e.rows ?? {}).filter(([, v]) => Number(v) > 0).map(([k, v]) => `${k} ${fmtInt(Number(v))}`).join(', ')}</span></td>
                </tr>`,
              )}
            </tbody>
          </table>
        <//>`}
      </section>`}
  `;
}
