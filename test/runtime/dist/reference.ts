/** Fixtures for the dist tests: facts from real OTP 25 runs, never project code. */

// A real OTP 25 handshake, ha@127.0.0.1 → hb@127.0.0.1 with cookie 'hscookie'
// (shared/reference/erlang/handshake-ok.txt; frame payloads without the 2-byte length).
export const REF = {
  cookie: 'hscookie',
  flags: 0xd07df7fbdn,
  sendName: '4e0000000d07df7fbd6b025d40000c6861403132372e302e302e31',
  status: '736f6b',
  challenge: '4e0000000d07df7fbdb3c0b9436b025d3e000c6862403132372e302e302e31',
  reply: '728a5ec32b40892c8b297e89a11ef560bfacdf32c9',
  ack: '611df60c2da7222a8c163298985a3440b2',
  a: { name: 'ha@127.0.0.1', creation: 1795317056, challenge: 2321466155 },
  b: { name: 'hb@127.0.0.1', creation: 1795317054, challenge: 3015752003 },
} as const;
