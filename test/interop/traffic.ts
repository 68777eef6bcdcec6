// What every interop client sends and what the mock answers: one chat call
// whose prompt carries planted content, a secret and an email, so storage can
// be searched for each; fixed token counts, so dashboards can be checked.
import { randomBytes } from 'node:crypto';

export const MODEL = 'gpt-4o-mini';
export const USAGE = { input: 31, output: 7 } as const;

/** Words found only in the prompt (system and user messages) and only in the completion. */
export const PROMPT_MARK = 'Zebulon';
export const SYSTEM_MARK = 'harbourmaster';
export const COMPLETION_MARK = 'Xanadu';
export const COMPLETION = `The quokka ferry leaves at dawn from pier ${COMPLETION_MARK}-7.`;
export const EMAIL = 'ada.quill@example.org';
/** Found in stored text only where a secret was replaced. */
export const SECRET_MARKER = '[REDACTED:openai-key]';
export const SECRET_PREFIX = 'sk-proj-';

/**
 * An OpenAI project key made fresh for each run (never checked in, so no
 * repository scanner flags it); letters and digits, as real ones are.
 */
export function plantedSecret(): string {
  const alnum = randomBytes(96).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 64);
  return `${SECRET_PREFIX}${alnum}A1b2`;
}

/** The chat messages every client sends; the Python drivers build the same from INTEROP_* variables. */
export function promptMessages(secret: string): Array<{ role: string; content: string }> {
  return [
    { role: 'system', content: `You are the ${SYSTEM_MARK} of Port ${PROMPT_MARK}.` },
    { role: 'user', content: `My key is ${secret} and my email is ${EMAIL}; when does the ${PROMPT_MARK} ferry leave?` },
  ];
}
