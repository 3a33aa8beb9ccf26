/**
 * Every shape `global` sends between nodes, in one versioned place: the calls a
 * registrar makes to the name servers under the lock, and the messages name servers
 * exchange to replicate their tables. Types and constants only.
 */
import type { Atom, NodeName, Pid, Ref } from '../terms.js';
import { serverName, type SystemMsg } from '../types.js';

/** Sent in `discover`; a peer speaking another version is ignored (and logged). */
export const PROTO_VSN = 1;

/** One registration: a name and the pid it stands for. */
export type Entry = readonly [name: Atom, pid: Pid];

/**
 * What name servers tell each other. Each server writes only its own slice of the table
 * (the names of its own node's pids) and sends it to a peer it learns of (`sync`), then
 * every change to it (`insert`, `delete`), in order, on the one connection between them.
 * A change made on behalf of a registrar carries an `ack` ref: the peer answers `ack`, and
 * the registration returns once every peer has it.
 */
export type PeerMsg =
  | readonly ['discover', peer: Pid, vsn: number]
  | readonly ['sync', peer: Pid, entries: readonly Entry[]]
  | readonly ['insert', peer: Pid, name: Atom, pid: Pid, ack: Ref | undefined]
  | readonly ['delete', peer: Pid, name: Atom, ack: Ref | undefined]
  | readonly ['ack', ack: Ref, node: NodeName];

export interface GlobalProtocol {
  calls: {
    // The API, run by the node's registrar as transactions under the lock.
    register_name: { args: [name: Atom, pid: Pid]; reply: 'yes' | 'no' };
    unregister_name: { args: [name: Atom]; reply: 'ok' };
    re_register_name: { args: [name: Atom, pid: Pid]; reply: 'yes' | 'no' };
    // What a registrar asks each node's server while it runs a transaction.
    /** Queue for the `global` lock; answered when `requester` holds it. */
    lock: { args: [requester: Pid]; reply: 'ok' };
    /** Does this node's own slice hold `name`? Exact: the server is the slice's only writer. */
    owns: { args: [name: Atom]; reply: boolean };
    /** Register a pid of this node; answered once every peer has the entry. */
    insert_own: { args: [name: Atom, pid: Pid]; reply: 'yes' | 'no' };
    /** Drop `name` from this node's slice, if there; answered once every peer did too. */
    delete_own: { args: [name: Atom]; reply: 'ok' };
  };
  casts: { unlock: { args: [requester: Pid] } };
  info: PeerMsg | SystemMsg;
}

/** The API operations a registrar runs. */
export type Op =
  | readonly ['register_name', name: Atom, pid: Pid]
  | readonly ['unregister_name', name: Atom]
  | readonly ['re_register_name', name: Atom, pid: Pid];

export const GLOBAL_NAME_SERVER = serverName<GlobalProtocol>('global_name_server');
