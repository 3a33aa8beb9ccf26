/**
 * The magic cookie: resolve it (explicit value, else `$HOME/.erlang.cookie`, created
 * if missing), and the handshake digest MD5(cookie ++ decimal challenge) with a
 * constant-time comparison. Never logs and never puts the cookie in an error message.
 * Touches only the cookie file; no sockets, no timers.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const COOKIE_FILE = '.erlang.cookie';
/** Length of a generated cookie, as auth.erl makes it. */
export const GENERATED_COOKIE_LENGTH = 20;
/** A cookie is an atom in Erlang: at most 255 characters. */
export const MAX_COOKIE_CHARS = 255;

export type CookieErrorCode =
  | 'insecure' // the file is readable or writable by group or others
  | 'not_regular' // the path is a directory, a socket, …
  | 'unreadable'
  | 'invalid' // empty, too long, or characters a cookie cannot hold
  | 'create_failed';

/** The cookie cannot be used. The message names the file, never the cookie. */
export class CookieError extends Error {
  override readonly name = 'CookieError';
  constructor(
    readonly code: CookieErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CookieOptions {
  /** `--cookie` / `--setcookie`: used as is, the file is not read. */
  readonly cookie?: string;
  /** The cookie file; default `<home>/.erlang.cookie`. */
  readonly path?: string;
  /** Home directory; default `os.homedir()`. */
  readonly home?: string;
}

/** Where the cookie file lives for `opts`. */
export function cookiePath(opts: CookieOptions = {}): string {
  return opts.path ?? path.join(opts.home ?? os.homedir(), COOKIE_FILE);
}

/**
 * The cookie to use: the explicit one, else the file's content, else a new random
 * cookie written to a new file with mode 0400 (OTP auth.erl, FEATURES D6).
 * Throws `CookieError`.
 */
export function resolveCookie(opts: CookieOptions = {}): string {
  if (opts.cookie !== undefined) return checkCookie(opts.cookie, 'the cookie given on the command line');
  const file = cookiePath(opts);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return createCookieFile(file);
    throw new CookieError('unreadable', `cannot stat cookie file ${file}: ${(err as Error).message}`);
  }
  return readChecked(file, st);
}

/** Read an existing cookie file, applying the same checks as `resolveCookie`. */
export function readCookieFile(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new CookieError('unreadable', `cannot stat cookie file ${file}: ${(err as Error).message}`);
  }
  return readChecked(file, st);
}

function readChecked(file: string, st: fs.Stats): string {
  if (!st.isFile()) throw new CookieError('not_regular', `cookie file ${file} is not a regular file`);
  // auth.erl check_attributes: (Mode band 8#077) =/= 0 is refused.
  if ((st.mode & 0o077) !== 0) {
    throw new CookieError(
      'insecure',
      `cookie file ${file} must be accessible by its owner only (mode is ${(st.mode & 0o777).toString(8).padStart(4, '0')}; run chmod 400 ${file})`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (err) {
    throw new CookieError('unreadable', `cannot read cookie file ${file}: ${(err as Error).message}`);
  }
  // Trailing whitespace (an editor's newline) is not part of the cookie.
  return checkCookie(text.replace(/\s+$/, ''), `cookie file ${file}`);
}

/** Write a new random cookie to `file` (mode 0400, never overwriting) and return it. */
export function createCookieFile(file: string): string {
  const cookie = randomCookie();
  try {
    // 'wx' = O_CREAT|O_EXCL: never replace a file another process just created.
    fs.writeFileSync(file, cookie, { mode: 0o400, flag: 'wx' });
    fs.chmodSync(file, 0o400); // the umask cannot add bits, but be explicit
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readCookieFile(file);
    throw new CookieError('create_failed', `cannot create cookie file ${file}: ${(err as Error).message}`);
  }
  return cookie;
}

/** 20 random upper-case letters A–Z (auth.erl create_cookie), from the CSPRNG. */
export function randomCookie(): string {
  let s = '';
  for (let i = 0; i < GENERATED_COOKIE_LENGTH; i++) s += String.fromCharCode(65 + crypto.randomInt(26));
  return s;
}

/**
 * A cookie must be 1..255 characters. From a file, only printable ASCII is allowed
 * (auth.erl check_cookie); an explicit cookie may hold any Latin-1 character, since
 * erlang:md5 hashes the cookie's characters as bytes.
 */
function checkCookie(cookie: string, source: string): string {
  if (cookie.length === 0) throw new CookieError('invalid', `${source} is empty`);
  if (cookie.length > MAX_COOKIE_CHARS) throw new CookieError('invalid', `${source} is longer than ${MAX_COOKIE_CHARS} characters`);
  const fromFile = source.startsWith('cookie file');
  const ok = [...cookie].every((ch) => {
    const c = ch.codePointAt(0)!;
    return fromFile ? c >= 0x20 && c <= 0x7e : c >= 0x01 && c <= 0xff;
  });
  if (!ok) throw new CookieError('invalid', `${source} contains characters a cookie cannot hold`);
  return cookie;
}

/**
 * The handshake digest (ERTS dist protocol, "Definitions"): MD5 of the cookie's text
 * followed by the challenge as an unsigned 32-bit decimal number.
 */
export function digest(challenge: number, cookie: string): Buffer {
  return crypto
    .createHash('md5')
    .update(Buffer.from(cookie, 'latin1'))
    .update(String(challenge >>> 0), 'latin1')
    .digest();
}

/** Compare two digests in constant time (no early exit on the first differing byte). */
export function digestEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
