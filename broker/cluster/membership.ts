/**
 * Who is in the cluster (FEATURES C1–C2, C8): the member nodes with their status
 * (running = connected, stopped = a member we cannot reach) and since when, plus
 * whether this node left on purpose (then discovery must not pull it back, C6/C10).
 * Persisted in the node's data dir so a restarted member rejoins by itself. Pure
 * except for `load`/`save`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NodeName } from '../../runtime/index.js';

export type MemberStatus = 'running' | 'stopped';

export interface Member {
  readonly node: NodeName;
  status: MemberStatus;
  /** When the status last changed (ms since the epoch). */
  since: number;
}

export interface Persisted {
  readonly members: NodeName[];
  readonly left: boolean;
}

export class Membership {
  readonly members = new Map<NodeName, Member>();
  /** This node left its cluster by `cluster leave`: discovery leaves it alone. */
  left = false;

  constructor(
    readonly self: NodeName,
    nowMs: number,
  ) {
    this.members.set(self, { node: self, status: 'running', since: nowMs });
  }

  isMember(node: NodeName): boolean {
    return this.members.has(node);
  }

  /** Members other than this node. */
  peers(): NodeName[] {
    return [...this.members.keys()].filter((n) => n !== this.self);
  }

  running(): NodeName[] {
    return [...this.members.values()].filter((m) => m.status === 'running').map((m) => m.node).sort();
  }

  stopped(): NodeName[] {
    return [...this.members.values()].filter((m) => m.status === 'stopped').map((m) => m.node).sort();
  }

  /** Add a member (its status as we see its connection). True if it is new. */
  add(node: NodeName, connected: boolean, nowMs: number): boolean {
    const m = this.members.get(node);
    if (m !== undefined) return false;
    this.members.set(node, { node, status: connected ? 'running' : 'stopped', since: nowMs });
    return true;
  }

  remove(node: NodeName): boolean {
    if (node === this.self) return false;
    return this.members.delete(node);
  }

  /** A member's connection came up or went down. True when its status changed. */
  setStatus(node: NodeName, status: MemberStatus, nowMs: number): boolean {
    const m = this.members.get(node);
    if (m === undefined || m.status === status) return false;
    m.status = status;
    m.since = nowMs;
    return true;
  }

  /** Back to a cluster of one. */
  reset(nowMs: number): void {
    this.members.clear();
    this.members.set(this.self, { node: this.self, status: 'running', since: nowMs });
  }

  toJSON(): Persisted {
    return { members: [...this.members.keys()].sort(), left: this.left };
  }

  /** Where a node keeps its membership: `<data_dir>/<node>/cluster.json`. */
  static file(dataDir: string, node: NodeName): string {
    return path.join(dataDir, node.replace(/[^A-Za-z0-9_.@-]/g, '_'), 'cluster.json');
  }

  save(dataDir: string): void {
    const f = Membership.file(dataDir, this.self);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    const tmp = `${f}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.toJSON()));
    fs.renameSync(tmp, f); // atomic: a crash never leaves half a file
  }

  static load(dataDir: string, self: NodeName, nowMs: number): Membership {
    const m = new Membership(self, nowMs);
    let p: Persisted | undefined;
    try {
      p = JSON.parse(fs.readFileSync(Membership.file(dataDir, self), 'utf8')) as Persisted;
    } catch {
      return m;
    }
    m.left = p.left === true;
    for (const n of p.members ?? []) if (n !== self) m.add(n, false, nowMs);
    return m;
  }
}
