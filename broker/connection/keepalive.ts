/**
 * Keepalive arithmetic for the server side of a connection (MQTT §3.1.2.10): which
 * interval applies (the client's, or in MQTT 5 the Server Keep Alive), and a checker
 * the connection actor ticks with its "packets received" counter. A client silent
 * for 1.5 × the interval is timed out ([MQTT-3.1.2-24]; MQTT 5: [MQTT-3.1.2-22]). Pure: the
 * time is passed in (the node's sweep, keepalive-sweep.ts, says when a check is due);
 * nothing here reads a clock or logs.
 */

/** The spec's factor: silence for one and a half keepalive periods ends the connection [MQTT-3.1.2-24]. */
export const KEEPALIVE_MULTIPLIER = 1.5;
export const MAX_KEEPALIVE_S = 65_535;

export interface NegotiatedKeepalive {
  /** The interval the server enforces, in seconds; 0 turns the mechanism off (§3.1.2.10). */
  readonly keepaliveS: number;
  /** The Server Keep Alive to put in the v5 CONNACK, when the server overrides the client. */
  readonly serverKeepAliveS: number | undefined;
}

/**
 * The keepalive of a new connection. An MQTT 5 server may impose its own value,
 * sent as Server Keep Alive in CONNACK, which the client must then use
 * [MQTT-3.2.2-21], [MQTT-3.2.2-22]. MQTT 3.1.1 has no such property, so the client's
 * value applies.
 */
export function negotiateKeepalive(clientS: number, protocolVersion: 3 | 4 | 5, serverKeepAliveS?: number): NegotiatedKeepalive {
  checkInterval(clientS);
  if (protocolVersion === 5 && serverKeepAliveS !== undefined) {
    checkInterval(serverKeepAliveS);
    return { keepaliveS: serverKeepAliveS, serverKeepAliveS };
  }
  return { keepaliveS: clientS, serverKeepAliveS: undefined };
}

export type KeepaliveCheck =
  /** Keepalive is off: arm no timer. */
  | { readonly status: 'disabled' }
  /** Alive: check again in `nextCheckInMs`. */
  | { readonly status: 'ok'; readonly nextCheckInMs: number }
  /** Nothing was received for `idleMs` ≥ the timeout: close with 0x8D [MQTT-3.1.2-24]. */
  | { readonly status: 'timeout'; readonly idleMs: number };

const DISABLED: KeepaliveCheck = { status: 'disabled' };

/**
 * The checker. The connection counts received packets (any Control Packet counts,
 * §3.1.2.10) and calls `check(now, count)` when the timer it armed fires.
 * A changed count means activity since the last check, dated at that check, so the
 * connection is never closed early; it is closed at most `checkIntervalMs` late.
 */
export class Keepalive {
  readonly keepaliveS: number;
  /** Silence that ends the connection: 1.5 × the interval [MQTT-3.1.2-24]. */
  readonly timeoutMs: number;
  /** Longest wait between checks, which bounds how late a timeout is seen. */
  readonly checkIntervalMs: number;
  private lastCount: number;
  private lastActivityMs: number;
  /** When the next check is due (the sweep's field: KeepaliveTable); Infinity while one is on its way. */
  dueAtMs = Infinity;

  /**
   * @param nowMs when the connection was accepted (the CONNECT counts as activity)
   * @param recvCount the received-packet counter at that moment
   * @param checkIntervalMs default: half the keepalive interval
   */
  constructor(keepaliveS: number, nowMs: number, recvCount = 0, checkIntervalMs?: number) {
    checkInterval(keepaliveS);
    this.keepaliveS = keepaliveS;
    this.timeoutMs = keepaliveS * 1000 * KEEPALIVE_MULTIPLIER;
    this.checkIntervalMs = checkIntervalMs ?? keepaliveS * 500;
    if (!(this.checkIntervalMs > 0) && keepaliveS !== 0) throw new RangeError('checkIntervalMs must be > 0');
    this.lastCount = recvCount;
    this.lastActivityMs = nowMs;
  }

  get enabled(): boolean {
    return this.keepaliveS !== 0;
  }

  /** When activity was last seen (at a check, or at creation). */
  get lastActivityAtMs(): number {
    return this.lastActivityMs;
  }

  /** The first check, right after CONNACK: the same as `check` with nothing received. */
  start(nowMs: number): KeepaliveCheck {
    return this.check(nowMs, this.lastCount);
  }

  /** Record the counter seen at `nowMs` and say whether the client is still alive. */
  check(nowMs: number, recvCount: number): KeepaliveCheck {
    if (this.keepaliveS === 0) return DISABLED;
    if (recvCount !== this.lastCount) {
      this.lastCount = recvCount;
      this.lastActivityMs = nowMs;
    }
    const idleMs = nowMs - this.lastActivityMs;
    if (idleMs >= this.timeoutMs) return { status: 'timeout', idleMs };
    return { status: 'ok', nextCheckInMs: Math.min(this.timeoutMs - idleMs, this.checkIntervalMs) };
  }
}

function checkInterval(s: number): void {
  if (!Number.isInteger(s) || s < 0 || s > MAX_KEEPALIVE_S) throw new RangeError(`keepalive must be 0..65535 s, got ${s}`);
}
