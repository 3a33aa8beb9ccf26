/**
 * Runtime test helpers: nodes torn down after each test, a recorder process whose
 * messages the test can await, and a log capture.
 */
import type { ExecutionContext } from 'ava';
import { startNode, type LocalNode, type NodeOptions, type Pid, type Ctx } from '../../runtime/index.js';
import { onLog, type LogLevel } from '../../runtime/log.js';
import { WaitTimeout } from './wait.js';

export async function testNode(t: ExecutionContext, opts: NodeOptions = {}): Promise<LocalNode> {
  const n = await startNode(opts);
  t.teardown(() => n.stop());
  return n;
}

export interface Recorder {
  readonly pid: Pid;
  readonly messages: unknown[];
  /** Resolve with the first recorded message (from `from` on) that `pred` accepts. */
  next(pred: (m: unknown) => boolean, what: string, timeoutMs?: number): Promise<unknown>;
  /** A round trip through the recorder's mailbox: everything sent to it before is recorded after this. */
  sync(): Promise<void>;
}

/** A handler process that records every message it gets. */
export function recorder(node: LocalNode, opts: { trapExit?: boolean; name?: string } = {}): Recorder {
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  let seq = 0;
  const pid = node.spawn(
    {
      handle(m: unknown, _ctx: Ctx) {
        messages.push(m);
        for (const w of [...waiters]) w();
      },
    },
    { ...(opts.trapExit === true ? { trapExit: true } : {}), ...(opts.name === undefined ? {} : { name: opts.name }) },
  );
  const next = (pred: (m: unknown) => boolean, what: string, timeoutMs = 5_000): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = messages.find(pred);
        if (m !== undefined) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new WaitTimeout(`timed out waiting for ${what}; recorded: ${JSON.stringify(messages.map(String))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    pid,
    messages,
    next,
    async sync() {
      const token = `$sync${++seq}`;
      node.send(pid, token);
      await next((m) => m === token, 'sync token');
      messages.splice(messages.indexOf(token), 1);
    },
  };
}

export interface LogLine {
  level: LogLevel;
  label: string;
  event: string;
  fields: Record<string, unknown> | undefined;
}

/** Capture log lines for the rest of the test. */
export function captureLogs(t: ExecutionContext): LogLine[] {
  const lines: LogLine[] = [];
  const off = onLog((level, label, event, fields) => lines.push({ level, label, event, fields }));
  t.teardown(off);
  return lines;
}
