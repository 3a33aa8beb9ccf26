/** broker/mqtt/packet.ts: which client properties are refused, and with which code. */
import test from 'ava';
import { checkProperties, type PropertyContext } from '../../../broker/mqtt/packet.js';

const rows: [PropertyContext, Record<string, unknown> | undefined, number | undefined][] = [
  ['publish', undefined, undefined],
  ['publish', { contentType: 'a', userProperties: { k: 'v', m: ['1', '2'] }, correlationData: Buffer.from('x'), messageExpiryInterval: 5 }, undefined],
  ['publish', { subscriptionIdentifier: 3 }, 0x81], // [MQTT-3.3.4-6]
  ['publish', { sessionExpiryInterval: 3 }, 0x81],
  ['publish', { contentType: ['a', 'b'] }, 0x82],
  ['publish', { userProperties: { null: null } }, 0x81], // a pair cut short
  ['publish', { contentType: null }, 0x81],
  ['publish', { correlationData: 'not a buffer' }, 0x81],
  ['publish', { topicAlias: -1 }, 0x81],
  ['connect', { sessionExpiryInterval: 10, receiveMaximum: 5, requestProblemInformation: true }, undefined],
  ['connect', { topicAlias: 1 }, 0x81],
  ['will', { willDelayInterval: 5, responseTopic: 'r' }, undefined],
  ['will', { sessionExpiryInterval: 5 }, 0x81],
  ['subscribe', { subscriptionIdentifier: 5, userProperties: {} }, undefined],
  ['subscribe', { subscriptionIdentifier: [1, 2] }, 0x82],
  ['ack', { reasonString: 'fine' }, undefined],
  ['ack', { contentType: 'x' }, 0x81],
  ['disconnect', { sessionExpiryInterval: 0, serverReference: 'elsewhere' }, undefined],
];

for (const [ctx, props, rc] of rows) {
  test(`packet: ${ctx} ${JSON.stringify(props)} → ${rc === undefined ? 'accepted' : `0x${rc.toString(16)}`}`, (t) => {
    t.is<number | undefined, number | undefined>(checkProperties(ctx, props)?.reasonCode, rc);
  });
}
