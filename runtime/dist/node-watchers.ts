/**
 * Who hears about nodes coming and going: `monitorNode(node)` watchers (one
 * `['nodedown', node]` each, then the monitor is gone, as erlang:monitor_node) and
 * `monitorNodes` subscribers (every nodeup/nodedown of the node types they chose).
 */
import type { NodeName, Pid } from '../terms.js';
import type { NodeCore } from '../process/node-core.js';

export type NodeType = 'visible' | 'hidden' | 'all';

export class NodeWatchers {
  /** node → watcher pid key → [pid, count] (monitor_node stacks). */
  private readonly perNode = new Map<NodeName, Map<string, [Pid, number]>>();
  private readonly all = new Map<string, [Pid, NodeType]>();

  constructor(private readonly core: NodeCore) {}

  monitorNode(pid: Pid, node: NodeName, flag: boolean): void {
    let m = this.perNode.get(node);
    if (flag) {
      if (m === undefined) this.perNode.set(node, (m = new Map<string, [Pid, number]>()));
      const e = m.get(pid.key);
      m.set(pid.key, [pid, (e?.[1] ?? 0) + 1]);
    } else if (m !== undefined) {
      m.delete(pid.key);
      if (m.size === 0) this.perNode.delete(node);
    }
  }

  monitorNodes(pid: Pid, flag: boolean, type: NodeType = 'visible'): void {
    if (flag) this.all.set(pid.key, [pid, type]);
    else this.all.delete(pid.key);
  }

  up(node: NodeName, hidden: boolean): void {
    this.broadcast(['nodeup', node], hidden);
  }

  /** `node` went down (or could not be reached): per-node watchers fire once and are removed. */
  down(node: NodeName, hidden: boolean, notifyAll = true): void {
    const m = this.perNode.get(node);
    this.perNode.delete(node);
    if (m !== undefined) {
      for (const [pid, n] of m.values()) for (let i = 0; i < n; i++) this.core.send(pid, ['nodedown', node]);
    }
    if (notifyAll) this.broadcast(['nodedown', node], hidden);
  }

  /** Deliver to a dead per-node watcher is harmless; drop dead subscribers as we go. */
  private broadcast(msg: readonly ['nodeup' | 'nodedown', NodeName], hidden: boolean): void {
    for (const [k, [pid, type]] of this.all) {
      if (!this.core.isAlive(pid)) {
        this.all.delete(k);
        continue;
      }
      if (type === 'all' || (type === 'hidden') === hidden) this.core.send(pid, msg);
    }
  }
}
