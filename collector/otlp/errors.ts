/**
 * A request body that cannot be decoded as OTLP: the whole request is
 * malformed and the receiver answers 400 (never 5xx for bad input). Records that
 * decode but are invalid (bad ids) are not errors: they are counted in
 * `Decoded.rejected` and reported as partial success.
 */
export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
  /** Stable code for the error registry and metrics labels. */
  readonly code = 'OTLP_DECODE';
  /**
   * Where in the request the problem is, as a field path in the wire format's
   * own names (`resource_spans[0].scope_spans[1].spans[3].name` for protobuf,
   * `resourceSpans[0].scopeSpans[1].spans[3].name` for JSON); empty for the
   * body as a whole.
   */
  readonly path: string;
  /** What is wrong, without the path. */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(path === '' ? reason : `${path}: ${reason}`);
    this.path = path;
    this.reason = reason;
  }
}
