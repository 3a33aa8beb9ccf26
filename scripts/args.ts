/**
 * A tiny argv parser for Erlang-style flags: `-port 4369`, `--port 4369`,
 * `--port=4369`, and boolean switches. Unknown flags are errors, not guesses.
 */

export type FlagKind = 'switch' | 'value';
export type FlagSpec = Readonly<Record<string, FlagKind>>;

export interface ParsedArgs {
  /** Flag name (without dashes) → value, or `true` for a switch. Last one wins. */
  readonly flags: ReadonlyMap<string, string | true>;
  /** Words that are not flags, in order. */
  readonly rest: readonly string[];
}

export class ArgError extends Error {
  override readonly name = 'ArgError';
}

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const flags = new Map<string, string | true>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      rest.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const kind = spec[name];
    if (kind === undefined) throw new ArgError(`unknown option ${a}`);
    if (kind === 'switch') {
      if (eq >= 0) throw new ArgError(`option -${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = eq >= 0 ? body.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ArgError(`option -${name} needs a value`);
    flags.set(name, value);
  }
  return { flags, rest };
}

/** A flag's value as a port number (1..65535), or undefined when absent. */
export function portFlag(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < 0 || n > 65535) throw new ArgError(`-${name} wants a port number, got '${String(v)}'`);
  return n;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}
