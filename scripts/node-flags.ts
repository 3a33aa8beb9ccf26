/**
 * The Node flags `scripts/node` starts a node with, as erl's emulator flags are its
 * launcher's. They fit V8's garbage collector and its optimizing compiler to a
 * server that gains and keeps thousands of small records (the sessions and their
 * tables' entries) and whose connect path turns hot all at once:
 *
 * - `--min-semi-space-size=16 --max-semi-space-size=32` (MB; V8's defaults 1 and 16):
 *   fewer, larger scavenges. A connect storm allocates ~13 KB per client, of which
 *   ~4 KB stays, and every scavenge pays for each old-space object pointing into the
 *   young generation (about 15 tables gain an entry per client) besides copying what
 *   survives. Bench storm, beamq alone, interleaved, broker CPU per client: V8's
 *   defaults against 16/64 MB (means of 12 and 6 runs) a fresh broker's first storm
 *   201 → 161 µs, the steady storm 148 → 139 µs; 16/32 against 16/64 (3 runs each) the
 *   same within the noise, with less young generation counted in the idle-memory
 *   figure (5.5 against 5.9 KB per connection at 10 000; V8's defaults 5.2 KB).
 * - `--no-allocation-site-pretenuring`: V8 watches where objects that survive are
 *   made, and from then on makes them in the old generation; each such decision
 *   throws away the optimized code that allocates there. In a first storm it came
 *   twice, after two scavenges, each time for the whole connect path (--trace-deopt:
 *   "code dependencies"; ~47 recompiles, ~330 ms of compiling, during 5000 clients),
 *   and the records made in the old generation then need a write barrier per store.
 *   Without it (7 interleaved pairs, with the semi-space flags): first storm
 *   196 → 176 µs per client, steady 176 → 151 µs; fan-in, fan-out, latency and idle
 *   memory unchanged within the noise (2 pairs).
 * - `--no-lazy-feedback-allocation`: a function records the types it meets (its
 *   feedback vector) from its first call, not only once it has run a while. The
 *   start-up self-check takes a connection's rare paths once (its first close, the
 *   first route of a node, the trie's first fork) so that V8 sees them before it
 *   optimizes; with lazy allocation those first runs recorded nothing, and each such
 *   path, taken again after optimization (a storm's clients all leaving, the next
 *   storm's first route), threw the optimized code away ("insufficient type
 *   feedback") and had it compiled again: --trace-opt of a first storm after 1000
 *   warm-up clients, 3 runs each, 30-38 TurboFan compiles (130-270 ms on the helper
 *   threads, which share the two cores with the load) against 17-22 (80-170 ms). The
 *   price is a vector for every function called once (start-up code too).
 * - `--concurrent-recompilation-queue-length=64` (V8's default 8): the functions that
 *   TurboFan is asked to compile wait in a queue for its helper threads; a connect
 *   path turns hot all at once, and a full queue turns a function away until a later
 *   tick (--trace-concurrent-recompilation: 19 "queue full" during the 1000 warm-up
 *   clients and their leaving), so those were compiled in the next storm instead.
 *   With room for 64, 3 runs each: a first storm's compiles 20-34 (95-170 ms) → 14-15
 *   (45-75 ms), the steady storm's 5-11 → 1; the compiling moves to the idle second
 *   after the warm-up.
 *
 * These must be given when Node starts (v8.setFlagsFromString comes too late: the
 * heap and the compile queue are sized, and start-up code compiled, before it), so
 * the shell script passes them; they must equal this list, which the bench uses to
 * start beamq as the launcher does (test/scripts checks both). A flag that the
 * operator's NODE_OPTIONS names (with or without `no-`) is left to it; Node takes
 * only the semi-space ones there (to keep V8's defaults for the others, run
 * build/scripts/node.js with Node's own flags).
 */
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=32', '--no-allocation-site-pretenuring', '--no-lazy-feedback-allocation', '--concurrent-recompilation-queue-length=64'];

/** `--no-allocation-site-pretenuring` → `allocation-site-pretenuring`, `--max-semi-space-size=32` → `max-semi-space-size`. */
const flagName = (flag: string): string => flag.replace(/^--/, '').replace(/^no-/, '').replace(/=.*$/, '');

/** NODE_FLAGS less those that `nodeOptions` (NODE_OPTIONS) names: as scripts/node picks them. */
export function launcherFlags(nodeOptions: string | undefined): string[] {
  return NODE_FLAGS.filter((f) => !(nodeOptions ?? '').replaceAll('_', '-').includes(flagName(f)));
}
