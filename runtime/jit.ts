/**
 * V8's tier-up brought forward for a node that serves (scripts/node, as erl's emulator
 * flags are the launcher's): a function is optimised after less work, and sooner after
 * its type feedback changed. V8's defaults suit pages that run briefly; a broker's
 * connect path is hot from its first clients, and with the defaults most of it was
 * still being compiled, on a second core, during the first thousands of connects
 * (measured: a fresh broker's first 5000-client storm after 1000 warm-up clients ran 76
 * TurboFan compiles, ~470 ms of compile time; with these, 27 and ~240 ms, and about a
 * quarter less broker CPU per client). The steady storm, fan-in and fan-out figures did
 * not move beyond the noise: a few hundred calls give feedback as good as thousands.
 */
import v8 from 'node:v8';

/** The flags and their values (V8's defaults: 67584 and 500). */
const EARLY_TIER_UP: Readonly<Record<string, string>> = {
  'interrupt-budget': String(16 * 1056),
  'minimum-invocations-after-ic-update': '100',
};

/**
 * Set EARLY_TIER_UP for this process, but not a flag that the command line or
 * NODE_OPTIONS already sets (the operator's word wins). Call once, before serving.
 */
export function tierUpEarly(): void {
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].map((a) => a.replaceAll('_', '-'));
  for (const [flag, value] of Object.entries(EARLY_TIER_UP)) {
    if (given.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`))) continue;
    v8.setFlagsFromString(`--${flag}=${value}`);
  }
}
