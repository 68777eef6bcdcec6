// The admin token: CONSENTRY_ADMIN_TOKEN when set, otherwise generated once
// into <data>/admin-token (mode 0600) and read from there on later starts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface AdminToken {
  token: string;
  /** Where it was read from or written to; undefined when it came from the environment. */
  file: string | undefined;
  generated: boolean;
}

export function resolveAdminToken(dataDir: string, fromEnv: string): AdminToken {
  if (fromEnv !== '') return { token: fromEnv, file: undefined, generated: false };
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token === '') throw new Error(`${file} is empty: delete it to generate a new admin token, or set CONSENTRY_ADMIN_TOKEN`);
    return { token, file, generated: false };
  }
  mkdirSync(dataDir, { recursive: true });
  const token = 'csk_admin_' + randomBytes(24).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, file, generated: true };
}
