// The Consentry control plane: sign-in with the admin token, then four pages
// routed by the URL fragment (#/tenants, #/dashboard/<tenant>, #/audit/<tenant>,
// #/query). The fragment holds tenant ids and time ranges only, never a token.
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { adminToken, api, queryKeyMemory, ApiError, SIGNED_OUT } from './api.js';
import { TenantsPage } from './pages/tenants.js';
import { DashboardPage } from './pages/dashboard.js';
import { AuditPage } from './pages/audit.js';
import { QueryPage } from './pages/query.js';

const PAGES = [
  { id: 'tenants', title: 'Tenants', component: TenantsPage },
  { id: 'dashboard', title: 'Dashboard', component: DashboardPage },
  { id: 'audit', title: 'Audit', component: AuditPage },
  { id: 'query', title: 'Query', component: QueryPage },
];

/** The route in the fragment: page, tenant id, parameters. */
export function parseHash(hash = location.hash) {
  const h = hash.replace(/^#\/?/, '');
  const [path = '', qs = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const page = PAGES.find((p) => p.id === parts[0]) ?? PAGES[0];
  return { page, tenant: parts[1], params: new URLSearchParams(qs) };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function SignIn({ notice, onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    document.title = 'Sign in · Consentry';
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    const t = token.trim();
    if (t === '') return setError('Paste the admin token first.');
    setBusy(true);
    setError('');
    try {
      await api('/api/tenants', { token: t });
      adminToken.set(t);
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'This token was refused: paste the admin token of this Consentry.' : err.message);
      setBusy(false);
    }
  };
  return html`
    <main id="main" class="signin">
      <form class="card signin-card" onSubmit=${submit} aria-describedby="signin-help">
        <h1>Consentry control plane</h1>
        <p id="signin-help" class="muted">
          Sign in with the admin token: <code>CONSENTRY_ADMIN_TOKEN</code>, or the file <code>data/admin-token</code> written at first start.
          It is kept in this tab's session storage only and sent to the management API as a bearer token.
        </p>
        <label for="admin-token">Admin token</label>
        <input id="admin-token" ref=${input} type="password" autocomplete="off" spellcheck="false" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />
        ${notice && !error && html`<p class="notice" role="status">${notice}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  `;
}

function Shell({ route, onSignOut }) {
  const main = useRef(null);
  const first = useRef(true);
  const Page = route.page.component;
  useEffect(() => {
    document.title = `${route.page.title}${route.tenant ? ` · ${route.tenant}` : ''} · Consentry`;
    // After a navigation, move focus to the new page's heading (not on first load).
    if (first.current) first.current = false;
    else main.current?.querySelector('h1')?.focus();
  }, [route.page.id, route.tenant]);
  const skip = () => main.current?.focus();
  const href = (p) => (route.tenant && p.id !== 'tenants' && p.id !== 'query' ? `#/${p.id}/${encodeURIComponent(route.tenant)}` : `#/${p.id}`);
  return html`
    <button type="button" class="skip" onClick=${skip}>Skip to content</button>
    <header class="top">
      <span class="brand">Consentry</span>
      <nav aria-label="Main">
        <ul>
          ${PAGES.map((p) => html`<li><a href=${href(p)} aria-current=${p.id === route.page.id ? 'page' : undefined}>${p.title}</a></li>`)}
        </ul>
      </nav>
      <button type="button" class="quiet" onClick=${onSignOut}>Sign out</button>
    </header>
    <main id="main" ref=${main} tabindex="-1">
      <${Page} key=${`${route.page.id}/${route.tenant ?? ''}`} tenant=${route.tenant} params=${route.params} />
    </main>
  `;
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => adminToken.get() !== null);
  const [notice, setNotice] = useState(undefined);
  useEffect(() => {
    const on = (e) => {
      setNotice(e.detail);
      setSignedIn(false);
    };
    window.addEventListener(SIGNED_OUT, on);
    return () => window.removeEventListener(SIGNED_OUT, on);
  }, []);
  const signOut = () => {
    adminToken.clear();
    queryKeyMemory.value = '';
    setNotice('Signed out.');
    setSignedIn(false);
  };
  if (!signedIn) return html`<${SignIn} notice=${notice} onSignedIn=${() => setSignedIn(true)} />`;
  return html`<${Shell} route=${route} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
