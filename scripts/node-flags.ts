/**
 * The Node flags `scripts/node` starts a node with, as erl's emulator flags are its
 * launcher's. They size V8's young generation for a server: each semi-space starts at
 * 16 MB (V8's default: 1 MB, grown on demand) and may grow to 64 MB (default 16 MB).
 *
 * Why: a connect storm allocates ~14 KB per client, of which ~4 KB stays (the session,
 * its tables' entries), and every scavenge pays a cost per old-space object pointing
 * into the young generation (the broker's tables: ~15 of them gain an entry per
 * client) besides copying what survives. Fewer, larger scavenges cost less in all.
 * Measured with the bench's storm on beamq alone, interleaved (broker CPU per client,
 * means of 6–12 runs): a fresh broker's first storm 201 → 161 µs, the steady storm
 * 148 → 139 µs; idle memory per connection at 10 000 unchanged (~5.1 KB; 64 MB alone
 * added 1.1 KB, as the growth counted in it); an idle node's RSS 69 → 71 MB.
 *
 * Flags that size the heap must be given when Node starts (v8.setFlagsFromString
 * comes too late), so the shell script passes them; they must equal this list, which
 * the bench uses to start beamq as the launcher does (test/scripts checks both). An
 * operator's NODE_OPTIONS that sizes the semi-space wins: the launcher then adds none.
 */
export const NODE_FLAGS: readonly string[] = ['--min-semi-space-size=16', '--max-semi-space-size=64'];

/** NODE_OPTIONS already sizes the young generation: the launcher adds nothing. */
export const givenByOperator = (nodeOptions: string | undefined): boolean => /semi-space-size/.test(nodeOptions ?? '');
