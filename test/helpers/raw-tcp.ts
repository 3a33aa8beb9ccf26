/**
 * Raw TCP conversations for protocol tests: send exact bytes (optionally in pieces),
 * collect exactly what comes back, and see whether the peer closed.
 */
import net from 'node:net';
import { WaitTimeout } from './wait.js';

export interface RawConn {
  readonly socket: net.Socket;
  /** Bytes received so far. */
  received(): Buffer;
  /** Resolves once at least `n` bytes arrived. */
  waitBytes(n: number, timeoutMs?: number): Promise<Buffer>;
  /** Resolves with everything received once the peer closed. */
  waitClose(timeoutMs?: number): Promise<Buffer>;
  readonly isClosed: () => boolean;
  write(b: Buffer | string): Promise<void>;
  destroy(): void;
}

export function rawConnect(port: number, host = '127.0.0.1'): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, noDelay: true });
    const chunks: Buffer[] = [];
    let total = 0;
    let closed = false;
    const waiters = new Set<() => void>();
    const wake = (): void => {
      for (const w of waiters) w();
    };
    socket.on('data', (b: Buffer) => {
      chunks.push(b);
      total += b.length;
      wake();
    });
    socket.on('error', () => undefined); // resets show up as close
    socket.on('close', () => {
      closed = true;
      wake();
    });
    const received = (): Buffer => Buffer.concat(chunks);
    const until = (cond: () => boolean, what: string, timeoutMs: number): Promise<Buffer> =>
      new Promise((res, rej) => {
        const check = (): void => {
          if (cond()) {
            clearTimeout(timer);
            waiters.delete(check);
            res(received());
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what} (got ${total} bytes, closed=${closed})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    socket.once('connect', () =>
      resolve({
        socket,
        received,
        waitBytes: (n, t = 5_000) => until(() => total >= n || closed, `${n} bytes`, t).then((b) => {
          if (b.length < n) throw new Error(`peer closed after ${b.length} of ${n} bytes`);
          return b;
        }),
        waitClose: (t = 5_000) => until(() => closed, 'the peer to close', t),
        isClosed: () => closed,
        write: (b) => new Promise<void>((res) => socket.write(b, () => res())),
        destroy: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

/** Send `bytes` in one write and return everything until the peer closes. */
export async function exchange(port: number, bytes: Buffer, timeoutMs = 5_000): Promise<Buffer> {
  const c = await rawConnect(port);
  await c.write(bytes);
  return c.waitClose(timeoutMs);
}

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
