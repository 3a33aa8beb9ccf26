/**
 * Topic names and topic filters (MQTT 3.1.1 §4.7, MQTT 5.0 §4.7 and §4.8.2):
 * validation, levels, wildcard matching with the '$' rule, and shared-subscription
 * parsing (`$share/<group>/<filter>` and EMQX's legacy `$queue/<filter>`).
 * Pure: no state, no I/O. Errors are values whose `reasonCode` a SUBACK, PUBACK or
 * DISCONNECT can carry as is.
 */
import { RC_TOPIC_FILTER_INVALID, RC_TOPIC_NAME_INVALID } from './reason-codes.js';

/** [MQTT-4.7.3-3]: names and filters encode to at most 65535 bytes of UTF-8. */
export const MAX_TOPIC_BYTES = 65_535;

/** The group a legacy `$queue/<filter>` subscription belongs to (EMQX 4 compatible). */
export const QUEUE_GROUP = '$queue';

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

export type TopicErrorKind =
  | 'empty' // [MQTT-4.7.3-1]
  | 'too_long' // [MQTT-4.7.3-3]
  | 'null_char' // [MQTT-4.7.3-2]
  | 'bad_utf8' // a lone surrogate cannot be encoded as UTF-8 [MQTT-1.5.3-1]
  | 'wildcard_in_name' // [MQTT-4.7.1-1], [MQTT-3.3.2-2]
  | 'bad_plus' // [MQTT-4.7.1-3]
  | 'bad_hash' // [MQTT-4.7.1-2]
  | 'bad_share_group' // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
  | 'bad_share_filter'; // [MQTT-4.8.2-2]: the group must be followed by '/' and a filter

/** A refused name or filter. `reasonCode` is 0x90 for names and 0x8F for filters. */
export interface TopicInvalid {
  readonly type: 'invalid';
  readonly reason: TopicErrorKind;
  readonly reasonCode: number;
}

/** A subscription's filter once `$share/` or `$queue/` is taken apart. */
export type ParsedFilter =
  | { readonly type: 'plain'; readonly filter: string }
  | { readonly type: 'shared'; readonly group: string; readonly filter: string }
  | TopicInvalid;

const invalidName = (reason: TopicErrorKind): TopicInvalid => ({ type: 'invalid', reason, reasonCode: RC_TOPIC_NAME_INVALID });
const invalidFilter = (reason: TopicErrorKind): TopicInvalid => ({ type: 'invalid', reason, reasonCode: RC_TOPIC_FILTER_INVALID });

/**
 * Check a PUBLISH topic name (or a will topic): non-empty, no wildcard characters,
 * no U+0000, well-formed, at most 65535 bytes. Returns undefined when valid.
 */
export function validateTopicName(name: string): TopicInvalid | undefined {
  const r = scan(name, false);
  return r === undefined ? undefined : invalidName(r);
}

/**
 * Check a plain topic filter: as a name, but `+` may fill a whole level and `#` may
 * fill only the last level. `$share/...` is checked as an ordinary filter here; use
 * `parseFilter` for what a SUBSCRIBE carries.
 */
export function validateTopicFilter(filter: string): TopicInvalid | undefined {
  const r = scan(filter, true);
  return r === undefined ? undefined : invalidFilter(r);
}

/**
 * Parse and validate a filter as a SUBSCRIBE or UNSUBSCRIBE carries it. Shared
 * subscriptions are `$share/<group>/<filter>` (MQTT 5 §4.8.2, accepted from 3.1.1
 * clients too, as EMQX does) and `$queue/<filter>`, which is group `$queue`.
 */
export function parseFilter(raw: string): ParsedFilter {
  if (raw.startsWith('$share/')) {
    const slash = raw.indexOf('/', 7);
    const group = slash === -1 ? raw.slice(7) : raw.slice(7, slash);
    // [MQTT-4.8.2-1] at least one character; [MQTT-4.8.2-2] none of '/', '+', '#'.
    if (group.length === 0 || group.includes('+') || group.includes('#')) return invalidFilter('bad_share_group');
    if (slash === -1) return invalidFilter('bad_share_filter');
    const filter = raw.slice(slash + 1);
    if (filter.length === 0) return invalidFilter('bad_share_filter');
    const bad = validateTopicFilter(filter);
    return bad ?? { type: 'shared', group, filter };
  }
  if (raw.startsWith('$queue/')) {
    const filter = raw.slice(7);
    if (filter.length === 0) return invalidFilter('bad_share_filter');
    const bad = validateTopicFilter(filter);
    return bad ?? { type: 'shared', group: QUEUE_GROUP, filter };
  }
  return validateTopicFilter(raw) ?? { type: 'plain', filter: raw };
}

/** `$share/<group>/<filter>`: the filter string a shared subscription is known by. */
export function sharedFilter(group: string, filter: string): string {
  return `$share/${group}/${filter}`;
}

/** The levels of a name or filter: `'a//b'` → `['a', '', 'b']`, `'/x'` → `['', 'x']`. */
export function levels(topic: string): string[] {
  return topic.split('/');
}

/** True when a (valid) filter has a `+` or `#` level. */
export function isWildcard(filter: string): boolean {
  let start = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === SLASH) start = i + 1;
    else if ((c === PLUS || c === HASH) && i === start && (i + 1 === filter.length || filter.charCodeAt(i + 1) === SLASH)) return true;
  }
  return false;
}

/** True for topics such as `$SYS/...` that root-level wildcards do not match [MQTT-4.7.2-1]. */
export function isDollarTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR;
}

/**
 * Does `filter` match the topic name `topic`? Both are assumed valid. `#` matches
 * its parent level and any number of children (`a/#` matches `a`), `+` exactly one
 * level (which may be empty), and a filter starting with a wildcard never matches a
 * name starting with `$` [MQTT-4.7.2-1]. No normalisation of either string
 * [MQTT-4.7.3-4]. Walks both strings by index: no allocation.
 */
export function match(filter: string, topic: string): boolean {
  const fl = filter.length;
  const tl = topic.length;
  if (topic.charCodeAt(0) === DOLLAR) {
    const f0 = filter.charCodeAt(0);
    if (f0 === PLUS || f0 === HASH) return false;
  }
  // fi/ti: start of the current level; a start past the end means "no more levels".
  let fi = 0;
  let ti = 0;
  for (;;) {
    if (fi > fl) return ti > tl;
    let fe = filter.indexOf('/', fi);
    if (fe === -1) fe = fl;
    const oneChar = fe - fi === 1;
    // [MQTT-4.7.1-2] '#' matches the parent level too, so even when the name has ended.
    if (oneChar && filter.charCodeAt(fi) === HASH) return true;
    if (ti > tl) return false;
    let te = topic.indexOf('/', ti);
    if (te === -1) te = tl;
    if (!(oneChar && filter.charCodeAt(fi) === PLUS)) {
      if (fe - fi !== te - ti) return false;
      for (let k = 0; k < fe - fi; k++) if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
    }
    fi = fe + 1;
    ti = te + 1;
  }
}

/** One pass over the UTF-16 string: byte length, U+0000, surrogates and wildcards. */
function scan(s: string, isFilter: boolean): TopicErrorKind | undefined {
  const n = s.length;
  if (n === 0) return 'empty';
  // Every code unit is at least one byte, so this is already too long.
  if (n > MAX_TOPIC_BYTES) return 'too_long';
  let bytes = 0;
  let levelStart = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === SLASH) levelStart = i + 1;
      else if (c === 0) return 'null_char';
      else if (c === PLUS) {
        if (!isFilter) return 'wildcard_in_name';
        if (i !== levelStart || (i + 1 < n && s.charCodeAt(i + 1) !== SLASH)) return 'bad_plus';
      } else if (c === HASH) {
        if (!isFilter) return 'wildcard_in_name';
        if (i !== levelStart || i + 1 !== n) return 'bad_hash';
      }
    } else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1); // NaN past the end
      if (!(d >= 0xdc00 && d <= 0xdfff)) return 'bad_utf8';
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return 'bad_utf8';
    else bytes += 3;
  }
  return bytes > MAX_TOPIC_BYTES ? 'too_long' : undefined;
}
