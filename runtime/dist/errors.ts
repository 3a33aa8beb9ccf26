/**
 * The one error type of the distribution layer's pure codecs (frames, handshake
 * messages, ETF, control messages). The connection that owns the bytes catches it,
 * logs it with the peer and closes: it never means "try again".
 * Pure: no sockets, no timers, no logging.
 */

/**
 * - `malformed`: bytes that break the format (bad tag, bad length, invalid UTF-8, …)
 * - `truncated`: the input ends inside a value
 * - `too_large`: a frame or a value beyond the configured limit
 * - `too_deep`: nesting beyond the configured depth
 * - `unsupported`: valid in the spec but not handled by beamq (atom cache, compressed terms, …)
 * - `unencodable`: a JS value with no Erlang counterpart (a function, NaN, a 300-char atom, …)
 */
export type DistProtocolErrorCode = 'malformed' | 'truncated' | 'too_large' | 'too_deep' | 'unsupported' | 'unencodable';

/** Bytes or values that break the distribution protocol. `code` is stable. */
export class DistProtocolError extends Error {
  override readonly name = 'DistProtocolError';
  constructor(
    readonly code: DistProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}
