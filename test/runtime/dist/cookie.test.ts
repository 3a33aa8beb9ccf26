import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  COOKIE_FILE,
  CookieError,
  cookiePath,
  digest,
  digestEquals,
  randomCookie,
  readCookieFile,
  resolveCookie,
  type CookieErrorCode,
} from '../../../runtime/dist/cookie.js';

function tempHome(t: { teardown(f: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-cookie-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function write(file: string, text: string, mode: number): void {
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
}

test('cookie: an explicit cookie wins and the file is not touched', (t) => {
  const home = tempHome(t);
  t.is(resolveCookie({ cookie: 'secret', home }), 'secret');
  t.false(fs.existsSync(path.join(home, COOKIE_FILE)));
});

test('cookie: a missing file is created with 20 letters A-Z and mode 0400', (t) => {
  const home = tempHome(t);
  const c = resolveCookie({ home });
  t.regex(c, /^[A-Z]{20}$/);
  const file = path.join(home, COOKIE_FILE);
  t.is(fs.statSync(file).mode & 0o777, 0o400);
  t.is(fs.readFileSync(file, 'latin1'), c);
  t.is(resolveCookie({ home }), c, 'read back unchanged');
  t.not(randomCookie(), randomCookie());
});

test('cookie: file rules (modes, type, content)', (t) => {
  const home = tempHome(t);
  type Expect = { readonly cookie: string } | { readonly error: CookieErrorCode };
  const rows: [string, string, number, Expect][] = [
    ['ok-0400', 'ABC', 0o400, { cookie: 'ABC' }],
    ['ok-0600', 'ABC', 0o600, { cookie: 'ABC' }],
    ['trailing-ws', 'ABC \r\n\t\n', 0o400, { cookie: 'ABC' }],
    ['printable', 'a-b_c!~ z', 0o400, { cookie: 'a-b_c!~ z' }],
    ['group-read', 'SECRET1', 0o440, { error: 'insecure' }],
    ['world-read', 'SECRET2', 0o644, { error: 'insecure' }],
    ['group-write', 'SECRET3', 0o620, { error: 'insecure' }],
    ['other-exec', 'SECRET4', 0o401, { error: 'insecure' }],
    ['empty', '', 0o400, { error: 'invalid' }],
    ['only-newline', '\n', 0o400, { error: 'invalid' }],
    ['control-char', 'SECRET\x01', 0o400, { error: 'invalid' }],
    ['too-long', 'A'.repeat(256), 0o400, { error: 'invalid' }],
  ];
  for (const [name, text, mode, expected] of rows) {
    const file = path.join(home, name);
    write(file, text, mode);
    if ('cookie' in expected) {
      t.is(resolveCookie({ path: file }), expected.cookie, name);
      continue;
    }
    const err = t.throws(() => resolveCookie({ path: file }), { instanceOf: CookieError }, name);
    t.is(err?.code, expected.error, name);
    t.true(err?.message.includes(file), `${name}: the message names the file`);
    t.false(text.trim().length > 0 && err?.message.includes(text.trim()) === true, `${name}: the message never holds the cookie`);
  }
  const dir = path.join(home, 'a-dir');
  fs.mkdirSync(dir, { mode: 0o700 });
  t.is(t.throws(() => readCookieFile(dir), { instanceOf: CookieError })?.code, 'not_regular');
  t.is(cookiePath({ home: '/h' }), '/h/.erlang.cookie');
});

test('cookie: a 0644 cookie file is refused with advice', (t) => {
  const home = tempHome(t);
  write(path.join(home, COOKIE_FILE), 'SECRETCOOKIE', 0o644);
  const err = t.throws(() => resolveCookie({ home }), { instanceOf: CookieError });
  t.regex(err?.message ?? '', /owner only \(mode is 0644; run chmod 400 /);
  t.notRegex(err?.message ?? '', /SECRETCOOKIE/);
});

test('cookie: digest is MD5(cookie ++ decimal unsigned challenge)', (t) => {
  // Values from a real OTP 25 handshake (reference/erlang/handshake-ok.txt, cookie 'hscookie').
  t.is(digest(3015752003, 'hscookie').toString('hex'), '40892c8b297e89a11ef560bfacdf32c9');
  t.is(digest(2321466155, 'hscookie').toString('hex'), '1df60c2da7222a8c163298985a3440b2');
  // The challenge is unsigned: a negative JS int means the same 32 bits.
  t.deepEqual(digest(-1, 'c'), digest(4294967295, 'c'));
  t.true(digestEquals(digest(1, 'a'), digest(1, 'a')));
  t.false(digestEquals(digest(1, 'a'), digest(1, 'b')));
  t.false(digestEquals(digest(1, 'a'), Buffer.alloc(3)), 'different lengths never throw');
});
