import test from 'ava';
import {
  compatible,
  completeNodeName,
  hostKind,
  MAX_NODE_NAME_CHARS,
  NodeNameError,
  parseNodeName,
  type LocalHosts,
  type NodeNameErrorCode,
} from '../../../runtime/dist/node-name.js';

const hosts: LocalHosts = { short: 'box', long: 'box.example.com' };
const noDomain: LocalHosts = { short: 'box', long: undefined };

test('node-name: valid names parse with their kind', (t) => {
  const rows: [string, string, string, 'long' | 'short'][] = [
    ['n1@127.0.0.1', 'n1', '127.0.0.1', 'long'],
    ['a_b-C9@host.example.com', 'a_b-C9', 'host.example.com', 'long'],
    ['x@::1', 'x', '::1', 'long'],
    ['x@box', 'x', 'box', 'short'],
    ['emqx@localhost', 'emqx', 'localhost', 'short'],
  ];
  for (const [name, alive, host, kind] of rows) {
    t.deepEqual(parseNodeName(name), { alive, host, kind, full: name }, name);
  }
});

test('node-name: malformed names are refused with a code and the name in the message', (t) => {
  const rows: [string, NodeNameErrorCode][] = [
    ['nohost', 'missing_at'],
    ['@127.0.0.1', 'empty_alive'],
    ['a b@host', 'bad_alive'],
    ['a.b@host', 'bad_alive'],
    ['ä@host', 'bad_alive'],
    ['a@', 'empty_host'],
    ['a@ho st', 'bad_host'],
    ['a@b@c', 'bad_host'],
    ['a@host\n', 'bad_host'],
    ['a'.repeat(MAX_NODE_NAME_CHARS - 1) + '@h.x', 'too_long'],
  ];
  for (const [name, code] of rows) {
    const err = t.throws(() => parseNodeName(name), { instanceOf: NodeNameError }, JSON.stringify(name));
    t.is(err?.code, code, JSON.stringify(name));
  }
  t.is(parseNodeName('a'.repeat(MAX_NODE_NAME_CHARS - 4) + '@h.x').kind, 'long', '255 characters is the limit');
});

test('node-name: --sname and --name complete and check the host kind', (t) => {
  t.is(completeNodeName('short', 'n1', hosts).full, 'n1@box');
  t.is(completeNodeName('long', 'n1', hosts).full, 'n1@box.example.com');
  t.is(completeNodeName('long', 'n1@127.0.0.1', noDomain).full, 'n1@127.0.0.1');
  t.is(completeNodeName('short', 'n1@other', hosts).full, 'n1@other');
  const rows: [NameKindArg, string, LocalHosts, NodeNameErrorCode][] = [
    ['long', 'n1', noDomain, 'no_long_host'],
    ['long', 'n1@box', hosts, 'not_long'],
    ['short', 'n1@127.0.0.1', hosts, 'not_short'],
    ['short', 'n1@a.b', hosts, 'not_short'],
    ['short', '', hosts, 'empty_alive'],
    ['short', 'bad name', hosts, 'bad_alive'],
  ];
  for (const [kind, arg, h, code] of rows) {
    const err = t.throws(() => completeNodeName(kind, arg, h), { instanceOf: NodeNameError }, `${kind} ${arg}`);
    t.is(err?.code, code, `${kind} ${arg}`);
  }
});
type NameKindArg = 'long' | 'short';

test('node-name: long and short names are not compatible', (t) => {
  const rows: [string, string, boolean][] = [
    ['a@127.0.0.1', 'b@10.0.0.2', true],
    ['a@box', 'b@other', true],
    ['a@127.0.0.1', 'b@box', false],
    ['a@box', 'b@box.example.com', false],
  ];
  for (const [a, b, ok] of rows) {
    t.is(compatible(a, b), ok, `${a} ~ ${b}`);
    t.is(compatible(parseNodeName(b), parseNodeName(a)), ok, `${b} ~ ${a}`);
  }
  t.is(hostKind('fe80::1'), 'long');
});
