/**
 * Errors of the interop client environment (Python virtual environment, Go
 * tools): stable codes, each message saying what went wrong and what to do.
 * The interop tests fail with these when a toolchain is missing: a missing
 * toolchain is a failed test run, never a silent pass.
 */
export const InteropSetupErrorCode = {
  /** No usable `python3` (3.10 or later) on PATH or in INTEROP_PYTHON. */
  PythonMissing: 'INTEROP_PYTHON_MISSING',
  /** `python -m venv` or `pip install` failed. */
  PipFailed: 'INTEROP_PIP_FAILED',
  /** `go` is not on PATH. */
  GoMissing: 'INTEROP_GO_MISSING',
  /** `go install` failed. */
  GoBuildFailed: 'INTEROP_GO_BUILD_FAILED',
  /** Another process held the setup lock for too long. */
  LockTimeout: 'INTEROP_LOCK_TIMEOUT',
} as const;

export type InteropSetupErrorCode = (typeof InteropSetupErrorCode)[keyof typeof InteropSetupErrorCode];

export class InteropSetupError extends Error {
  readonly code: InteropSetupErrorCode;

  constructor(code: InteropSetupErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'InteropSetupError';
    this.code = code;
  }
}
