/**
 * Who may connect, publish and subscribe. Anonymous and allow-all by default; with
 * a password file (`user:salt:scrypt-hash` lines, hex) and an ACL file (one rule per
 * line: `allow|deny user|client|all <who> publish|subscribe|all <filter>`, with `%u`
 * and `%c` standing for the user name and client id; first match wins; no match
 * allows). Pure apart from reading the files once.
 */
import { scryptSync, timingSafeEqual, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { match } from './mqtt/topic.js';

export interface Credentials {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
}

export type AuthResult = 'ok' | 'bad_credentials' | 'not_authorized';

export interface Authenticator {
  authenticate(c: Credentials): AuthResult;
}

export interface Authorizer {
  /** May this client publish to `topic` / subscribe to `filter`? */
  check(clientId: string, username: string | undefined, action: 'publish' | 'subscribe', topic: string): boolean;
}

export const allowAll: Authenticator & Authorizer = {
  authenticate: () => 'ok',
  check: () => true,
};

/** A salted scrypt hash line for the password file: `user:salt:hash`. */
export function passwordLine(user: string, password: string): string {
  const salt = randomBytes(16);
  return `${user}:${salt.toString('hex')}:${scryptSync(password, salt, 32).toString('hex')}`;
}

export class PasswordFile implements Authenticator {
  private readonly users = new Map<string, { salt: Buffer; hash: Buffer }>();

  constructor(
    text: string,
    private readonly allowAnonymous: boolean,
  ) {
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const [user, salt, hash] = line.split(':');
      if (user === undefined || salt === undefined || hash === undefined) throw new Error(`password file line ${i + 1}: expected user:salt:hash`);
      this.users.set(user, { salt: Buffer.from(salt, 'hex'), hash: Buffer.from(hash, 'hex') });
    }
  }

  static load(path: string, allowAnonymous: boolean): PasswordFile {
    return new PasswordFile(fs.readFileSync(path, 'utf8'), allowAnonymous);
  }

  authenticate(c: Credentials): AuthResult {
    if (c.username === undefined) return this.allowAnonymous ? 'ok' : 'not_authorized';
    const u = this.users.get(c.username);
    if (u === undefined || c.password === undefined) return 'bad_credentials';
    const h = scryptSync(c.password, u.salt, u.hash.length);
    return timingSafeEqual(h, u.hash) ? 'ok' : 'bad_credentials';
  }
}

interface Rule {
  readonly allow: boolean;
  readonly who: 'user' | 'client' | 'all';
  readonly name: string;
  readonly action: 'publish' | 'subscribe' | 'all';
  readonly filter: string;
}

export class AclFile implements Authorizer {
  private readonly rules: Rule[] = [];

  constructor(text: string) {
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const parts = line.split(/\s+/);
      const [perm, who, a, b, c] = parts;
      const bad = (): Error => new Error(`acl file line ${i + 1}: expected 'allow|deny user|client <name> publish|subscribe|all <filter>' or 'allow|deny all publish|subscribe|all <filter>'`);
      if (perm !== 'allow' && perm !== 'deny') throw bad();
      if (who === 'all') {
        if ((a !== 'publish' && a !== 'subscribe' && a !== 'all') || b === undefined) throw bad();
        this.rules.push({ allow: perm === 'allow', who: 'all', name: '', action: a, filter: b });
      } else if (who === 'user' || who === 'client') {
        if (a === undefined || (b !== 'publish' && b !== 'subscribe' && b !== 'all') || c === undefined) throw bad();
        this.rules.push({ allow: perm === 'allow', who, name: a, action: b, filter: c });
      } else throw bad();
    }
  }

  static load(path: string): AclFile {
    return new AclFile(fs.readFileSync(path, 'utf8'));
  }

  check(clientId: string, username: string | undefined, action: 'publish' | 'subscribe', topic: string): boolean {
    for (const r of this.rules) {
      if (r.action !== 'all' && r.action !== action) continue;
      if (r.who === 'user' && r.name !== username) continue;
      if (r.who === 'client' && r.name !== clientId) continue;
      const f = r.filter.replaceAll('%u', username ?? '').replaceAll('%c', clientId);
      // A subscribe is judged by its filter equal to, or within, the rule's filter.
      if (action === 'subscribe' ? f === topic || match(f, topic) : match(f, topic)) return r.allow;
    }
    return true;
  }
}
