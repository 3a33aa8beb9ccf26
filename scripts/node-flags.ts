/**
 * The Node flags `scripts/node` starts a node with, as erl's emulator flags are its
 * launcher's. They size V8's young generation for a server: each semi-space starts at
 * 16 MB (V8's default: 1 MB, grown on demand) and may grow to 32 MB (default 16 MB).
 *
 * Why: a connect storm allocates ~13 KB per client, of which ~4 KB stays (the session,
 * its tables' entries), and every scavenge pays for each old-space object pointing
 * into the young generation (the broker's tables: ~15 of them gain an entry per
 * client) besides copying what survives. Fewer, larger scavenges cost less in all.
 * Measured with the bench's storm on beamq alone, interleaved, broker CPU per client:
 * - V8's defaults against 16/64 MB (means of 12 and 6 runs): a fresh broker's first
 *   storm 201 → 161 µs, the steady storm 148 → 139 µs;
 * - 16/32 against 16/64 (3 runs each): the same within the noise (first 170 / 168,
 *   steady 149 / 160), with less young generation counted in the idle-memory figure
 *   (per connection at 10 000: 5.5 against 5.9 KB; with V8's defaults 5.2 KB). An idle
 *   node's RSS: 69 MB with V8's defaults, 71 with these.
 *
 * Flags that size the heap must be given when Node starts (v8.setFlagsFromString
 * comes too late), so the shell script passes them; they must equal this list, which
 * the bench uses to start beamq as the launcher does (test/scripts checks both). An
 * operator's NODE_OPTIONS that sizes the semi-space wins: the launcher then adds none.
 */
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=32'];

/** NODE_OPTIONS already sizes the young generation: the launcher adds nothing. */
export const givenByOperator = (nodeOptions: string | undefined): boolean => /semi-space-size/.test(nodeOptions ?? '');
