/**
 * The Node flags `scripts/node` starts a node with, as erl's emulator flags are its
 * launcher's. They fit V8's garbage collector to a server that gains and keeps
 * thousands of small records (the sessions and their tables' entries):
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
 *
 * Flags that size the heap must be given when Node starts (v8.setFlagsFromString
 * comes too late), so the shell script passes them; they must equal this list, which
 * the bench uses to start beamq as the launcher does (test/scripts checks both). A
 * flag that the operator's NODE_OPTIONS names (with or without `no-`) is left to it;
 * Node takes only the semi-space ones there (to keep V8's pretenuring, run
 * build/scripts/node.js with Node's own flags).
 */
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=32', '--no-allocation-site-pretenuring'];

/** `--no-allocation-site-pretenuring` → `allocation-site-pretenuring`, `--max-semi-space-size=32` → `max-semi-space-size`. */
const flagName = (flag: string): string => flag.replace(/^--/, '').replace(/^no-/, '').replace(/=.*$/, '');

/** NODE_FLAGS less those that `nodeOptions` (NODE_OPTIONS) names: as scripts/node picks them. */
export function launcherFlags(nodeOptions: string | undefined): string[] {
  return NODE_FLAGS.filter((f) => !(nodeOptions ?? '').replaceAll('_', '-').includes(flagName(f)));
}
