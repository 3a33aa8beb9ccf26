/**
 * Reassembles one EPMD request (`Length:16` + body) from however the bytes arrive:
 * in pieces, byte by byte, or all at once. Pure: no sockets, no timers.
 * Rules are the real daemon's (`epmd_srv.c` do_read): length 0 and lengths beyond
 * the input buffer are refused, and so is any byte past the announced length.
 */
import { MAX_REQUEST_LENGTH, ProtocolError } from './protocol.js';

export class RequestFramer {
  private hdr = 0; // header bytes seen (0..2)
  private len = 0; // announced body length, once hdr === 2
  private body: Buffer | undefined;
  private got = 0; // body bytes copied so far
  private done = false;

  /** Body bytes received so far, for inspection. */
  get received(): number {
    return this.got;
  }

  /** True once the header arrived; a partial request is then pending. */
  get started(): boolean {
    return this.hdr > 0;
  }

  /**
   * Feed a chunk. Returns the complete body once it has arrived, else undefined.
   * Throws `ProtocolError` when the stream breaks the framing rules; the
   * connection must then be closed without a reply.
   */
  push(chunk: Buffer): Buffer | undefined {
    if (this.done) throw new ProtocolError('malformed', 'bytes after a complete request');
    let off = 0;
    while (this.hdr < 2 && off < chunk.length) {
      this.len = (this.len << 8) | chunk[off++]!;
      this.hdr++;
    }
    if (this.hdr < 2) return undefined;
    if (this.body === undefined) {
      if (this.len === 0) throw new ProtocolError('too_small', 'request length 0');
      if (this.len > MAX_REQUEST_LENGTH) throw new ProtocolError('too_large', `request length ${this.len}`);
      const rest = chunk.length - off;
      if (rest > this.len) throw new ProtocolError('malformed', 'more bytes than the length announced');
      if (rest === this.len) {
        // The common case: the whole request in one read, no copy.
        this.done = true;
        this.got = rest;
        return chunk.subarray(off);
      }
      this.body = Buffer.allocUnsafe(this.len);
    }
    const n = chunk.length - off;
    if (this.got + n > this.len) throw new ProtocolError('malformed', 'more bytes than the length announced');
    chunk.copy(this.body, this.got, off);
    this.got += n;
    if (this.got < this.len) return undefined;
    this.done = true;
    return this.body;
  }
}
