/**
 * Errors of the local Kafka broker scripts: one registry of stable codes, each
 * message saying what went wrong and what to do. These are developer tools
 * (tests, benchmarks), so a failure throws; a caller that needs to branch
 * matches on `code`, never on the message text.
 */
export const KafkaScriptErrorCode = {
  /** `mvn` is not on PATH. */
  MavenMissing: 'KAFKA_MAVEN_MISSING',
  /** Maven ran and failed (network, repository, version). */
  FetchFailed: 'KAFKA_FETCH_FAILED',
  /** `java` is not on PATH and JAVA_HOME is not set. */
  JavaMissing: 'KAFKA_JAVA_MISSING',
  /** The storage formatter (kafka.tools.StorageTool format) failed. */
  FormatFailed: 'KAFKA_FORMAT_FAILED',
  /** The broker exited or did not serve within the start timeout. */
  StartFailed: 'KAFKA_START_FAILED',
  /** Bad options passed to a script function. */
  InvalidOptions: 'KAFKA_INVALID_OPTIONS',
} as const;

export type KafkaScriptErrorCode = (typeof KafkaScriptErrorCode)[keyof typeof KafkaScriptErrorCode];

export class KafkaScriptError extends Error {
  readonly code: KafkaScriptErrorCode;

  constructor(code: KafkaScriptErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'KafkaScriptError';
    this.code = code;
  }
}
