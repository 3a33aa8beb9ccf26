/**
 * Watches MQTT packet boundaries in a byte stream (fixed header + Remaining Length
 * varint) before the parser sees it, so an oversize packet is refused before its
 * body is buffered (v5 §3.2.2.3.6 Maximum Packet Size), and a malformed length is
 * caught early. Pure.
 */

export type GuardResult = 'ok' | 'too_large' | 'malformed';

export class FrameGuard {
  private state: 'header' | 'length' | 'body' = 'header';
  private length = 0;
  private mult = 1;
  private lengthBytes = 0;
  private left = 0;

  constructor(private readonly maxPacketSize: number) {}

  /** Account for `chunk`; say whether the stream is still acceptable. */
  push(chunk: Buffer): GuardResult {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'header':
          i++;
          this.state = 'length';
          this.length = 0;
          this.mult = 1;
          this.lengthBytes = 0;
          break;
        case 'length': {
          const b = chunk[i++]!;
          this.length += (b & 0x7f) * this.mult;
          this.mult *= 128;
          if (++this.lengthBytes > 4) return 'malformed'; // [MQTT-1.5.5-1]
          if ((b & 0x80) === 0) {
            // The whole packet: fixed header (1 + varint) plus the remaining length.
            if (this.maxPacketSize > 0 && 1 + this.lengthBytes + this.length > this.maxPacketSize) return 'too_large';
            this.left = this.length;
            this.state = this.left === 0 ? 'header' : 'body';
          }
          break;
        }
        case 'body': {
          const k = Math.min(this.left, chunk.length - i);
          i += k;
          this.left -= k;
          if (this.left === 0) this.state = 'header';
          break;
        }
      }
    }
    return 'ok';
  }
}
