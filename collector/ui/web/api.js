// Calls to the management API. The signed-in token (an operator's, or the
// bootstrap admin token) lives in sessionStorage only (gone when the tab
// closes; never in a URL, never in localStorage); a tenant's query key lives
// in memory only, for as long as the page is open.

const TOKEN_KEY = 'consentry.token';

export const signedInToken = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The query key pasted in the query console, kept while the page is open. */
export const queryKeyMemory = { value: '' };

/** An error answer of the API: HTTP status, stable code and the API's message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Fired when the signed-in token is refused (wrong, or revoked since): the app goes back to sign-in. */
export const SIGNED_OUT = 'consentry:signed-out';

/**
 * Calls /api with the signed-in token (or `token`), returns the parsed JSON answer.
 * Throws ApiError with the API's own code and message on an error answer.
 */
export async function api(path, { method = 'GET', body, token } = {}) {
  const bearer = token ?? signedInToken.get();
  const headers = { accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The management API did not answer: is Consentry running?');
  }
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const code = json?.error ?? `HTTP_${res.status}`;
    const message = json?.message ?? (text.slice(0, 300) || res.statusText);
    if (res.status === 401 && token === undefined) {
      signedInToken.clear();
      window.dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: 'Your token was refused: it is wrong or was revoked. Sign in again.' }));
    }
    throw new ApiError(res.status, code, message);
  }
  return json;
}

export const enc = encodeURIComponent;
