// Operators (admins only: GET/POST/DELETE /api/operators): who may use the
// management API and this page, with which role; creating one shows its token
// once; revoking one refuses its token from then on; the audit of both.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { CreateForm, ErrorBox, Loading, PageTitle, ShownOnce, TableRegion, useLoad, useModal } from '../components.js';
import { fmtTime } from '../format.js';

/** What each role may do (collector/api/access.ts decides; this is the explanation). */
const ROLES = [
  ['viewer', 'reads tenants, tiers, dashboards, requests and audits'],
  ['operator', 'also creates and deletes tenants and switches tiers'],
  ['privacy', 'also erases end users and exports data'],
  ['admin', 'everything, and manages operators'],
];

export function OperatorsPage({ me }) {
  const list = useLoad(() => api('/api/operators').then((r) => r.operators), []);
  const audit = useLoad(() => api('/api/operators/audit').then((r) => r.audit.slice().reverse()), [list.data]);
  const [created, setCreated] = useState(undefined);
  const [revoking, setRevoking] = useState(undefined);
  const [notice, setNotice] = useState(undefined);
  const noticeBox = useRef(null);
  useEffect(() => {
    if (notice) noticeBox.current?.focus();
  }, [notice]);

  return html`
    <${PageTitle}>Operators<//>
    <p class="muted">
      Each person signs in with a token of their own; the audit trail names them. Roles: ${ROLES.map(([r, what], i) => html`${i > 0 ? '; ' : ''}<strong>${r}</strong> ${what}`)}.
      The bootstrap admin token acts as the admin <code>admin</code>.
    </p>
    <${CreateOperator}
      onCreated=${(op) => {
        setCreated(op);
        setNotice(undefined);
        list.reload();
      }}
    />
    ${created && html`<${TokenOnce} op=${created} onDone=${() => setCreated(undefined)} />`}
    <div role="status" id="operators-notice">${notice && html`<p class="notice" tabindex="-1" ref=${noticeBox}>${notice}</p>`}</div>
    <section aria-labelledby="operators-h">
      <h2 id="operators-h">Operators in force</h2>
      <${ErrorBox} error=${list.error} />
      ${list.loading && !list.data && html`<${Loading} what="Loading operators" />`}
      ${list.data?.length === 0 && html`<p class="empty">No operators yet: only the bootstrap admin token signs in.</p>`}
      ${list.data?.length > 0 &&
      html`<${TableRegion} label="Operators">
        <table class="data cards" id="operators-table">
          <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">By</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            ${list.data.map(
              (o) => html`<tr data-operator=${o.name}>
                <th scope="row">${o.name}${o.name === me.name ? html` <span class="muted small">(you)</span>` : ''}</th>
                <td data-label="Role"><span class="role">${o.role}</span></td>
                <td data-label="Created">${fmtTime(o.createdAt)}</td>
                <td data-label="By">${o.createdBy}</td>
                <td><button type="button" class="danger-text" onClick=${() => setRevoking(o)}>Revoke<span class="sr-only"> ${o.name}</span></button></td>
              </tr>`,
            )}
          </tbody>
        </table>
      <//>`}
    </section>
    <section class="card" aria-labelledby="operator-audit-h">
      <h2 id="operator-audit-h">Operator changes</h2>
      <${ErrorBox} error=${audit.error} />
      ${audit.data?.length === 0 && html`<p class="empty">No operator changes recorded.</p>`}
      ${audit.data?.length > 0 &&
      html`<${TableRegion} label="Operator changes">
        <table class="data" id="operator-audit">
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Operator</th><th scope="col">Role</th></tr></thead>
          <tbody>${audit.data.map((a) => html`<tr><td>${fmtTime(a.at)}</td><td>${a.actor}</td><td>${a.action}</td><td>${a.operator}</td><td>${a.role}</td></tr>`)}</tbody>
        </table>
      <//>`}
    </section>
    ${revoking &&
    html`<${RevokeOperator}
      op=${revoking}
      onClose=${(done) => {
        setRevoking(undefined);
        if (done) {
          setNotice(`${done.name} is revoked: its token is refused from now on.`);
          list.reload();
        }
      }}
    />`}
  `;
}

function CreateOperator({ onCreated }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState('viewer');
  const create = async () => {
    onCreated(await api('/api/operators', { method: 'POST', body: { name: name.trim(), role } }));
    setName('');
  };
  return html`<${CreateForm} id="create-operator" title="Create an operator" submitLabel="Create operator" failed="The operator was not created" action=${create}>
    <div class="field">
      <label for="new-operator-name">Name</label>
      <input id="new-operator-name" required pattern="[a-z0-9][a-z0-9._@\\-]{0,63}" aria-describedby="new-operator-name-help" value=${name} onInput=${(e) => setName(e.currentTarget.value)} autocomplete="off" spellcheck="false" />
      <span id="new-operator-name-help" class="hint">lower-case letters, digits, . _ - @; never reused once taken</span>
    </div>
    <div class="field">
      <label for="new-operator-role">Role</label>
      <select id="new-operator-role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
        ${ROLES.map(([r]) => html`<option value=${r}>${r}</option>`)}
      </select>
    </div>
  <//>`;
}

/** The token of a new operator, shown once: the API keeps only its hash. */
function TokenOnce({ op, onDone }) {
  return html`<${ShownOnce}
    id="new-token"
    title=${`Token of ${op.name} (role ${op.role})`}
    warning=${html`<strong>Give this token to ${op.name} now.</strong> Consentry stores only its hash: it is shown this once. Whoever holds it acts as ${op.name} until it is revoked.`}
    secrets=${[{ id: 'operator-token', label: `Token of ${op.name}`, value: op.token }]}
    done="I have handed over the token"
    onDone=${onDone}
  />`;
}

function RevokeOperator({ op, onClose }) {
  const dialog = useRef(null);
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  useModal(dialog, onClose, busy);
  const confirm = async () => {
    setBusy(true);
    try {
      const done = await api(`/api/operators/${enc(op.name)}`, { method: 'DELETE' });
      dialog.current.close();
      onClose(done);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="revoke-h" aria-describedby="revoke-what">
    <h2 id="revoke-h">Revoke ${op.name}?</h2>
    <p id="revoke-what">${op.name} (role ${op.role}) can no longer sign in or call the API with its token, at once here and within seconds on other collectors. Its name stays in the audit and is never given to anyone else.</p>
    <${ErrorBox} error=${error} title="Not revoked" />
    <div class="buttons">
      <button type="button" class="danger" onClick=${confirm} disabled=${busy}>${busy ? 'Revoking…' : `Revoke ${op.name}`}</button>
      <button type="button" onClick=${() => dialog.current.close()} disabled=${busy}>Cancel</button>
    </div>
  </dialog>`;
}
