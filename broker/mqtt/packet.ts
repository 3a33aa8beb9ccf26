/**
 * MQTT 5 property checks for what a client sends (§2.2.2.2, and each packet's
 * properties section). mqtt-packet parses any known property in any packet, turns a
 * repeated one into an array and may yield null for a value cut short; the broker
 * must refuse all of these before a message built from them reaches other clients
 * (where encoding it again would fail). Pure: no I/O.
 */

/** Which properties a client may put in each packet (v5 table 2-4); the will is its own set. */
const ALLOWED: Readonly<Record<PropertyContext, ReadonlySet<string>>> = {
  connect: new Set([
    'sessionExpiryInterval',
    'receiveMaximum',
    'maximumPacketSize',
    'topicAliasMaximum',
    'requestResponseInformation',
    'requestProblemInformation',
    'userProperties',
    'authenticationMethod',
    'authenticationData',
  ]),
  will: new Set(['willDelayInterval', 'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData', 'userProperties']),
  // [MQTT-3.3.4-6]: no Subscription Identifier from a client.
  publish: new Set(['payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', 'responseTopic', 'correlationData', 'userProperties', 'contentType']),
  ack: new Set(['reasonString', 'userProperties']),
  subscribe: new Set(['subscriptionIdentifier', 'userProperties']),
  unsubscribe: new Set(['userProperties']),
  disconnect: new Set(['sessionExpiryInterval', 'reasonString', 'userProperties', 'serverReference']),
  auth: new Set(['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties']),
};

export type PropertyContext = 'connect' | 'will' | 'publish' | 'ack' | 'subscribe' | 'unsubscribe' | 'disconnect' | 'auth';

const NUMBER = new Set([
  'sessionExpiryInterval',
  'willDelayInterval',
  'receiveMaximum',
  'maximumPacketSize',
  'topicAliasMaximum',
  'messageExpiryInterval',
  'topicAlias',
  'subscriptionIdentifier',
]);
const BOOLEAN = new Set(['requestResponseInformation', 'requestProblemInformation', 'payloadFormatIndicator']);
const STRING = new Set(['authenticationMethod', 'contentType', 'responseTopic', 'reasonString', 'serverReference']);
const BINARY = new Set(['authenticationData', 'correlationData']);

export interface PropertyProblem {
  /** 0x81 Malformed Packet (not allowed here, wrong type, cut short) or 0x82 Protocol Error (repeated). */
  readonly reasonCode: 0x81 | 0x82;
  readonly why: string;
}

/** Check the properties of one packet from a client; undefined when they are acceptable. */
export function checkProperties(ctx: PropertyContext, props: Readonly<Record<string, unknown>> | undefined): PropertyProblem | undefined {
  if (props === undefined) return undefined;
  const allowed = ALLOWED[ctx];
  for (const [name, value] of Object.entries(props)) {
    // §2.2.2.2: an identifier not valid for the packet is a Malformed Packet.
    if (!allowed.has(name)) return { reasonCode: 0x81, why: `property ${name} not allowed in ${ctx}` };
    if (name === 'userProperties') {
      if (typeof value !== 'object' || value === null) return { reasonCode: 0x81, why: 'bad user property' };
      for (const v of Object.values(value)) {
        const vs: unknown[] = Array.isArray(v) ? v : [v];
        if (vs.some((x) => typeof x !== 'string')) return { reasonCode: 0x81, why: 'bad user property' };
      }
      continue;
    }
    // Only User Property may repeat (each packet's property list, §2.2.2.2); a repeat is a Protocol Error.
    if (Array.isArray(value)) return { reasonCode: 0x82, why: `property ${name} repeated` };
    const ok = NUMBER.has(name)
      ? typeof value === 'number' && Number.isInteger(value) && value >= 0
      : BOOLEAN.has(name)
        ? typeof value === 'boolean'
        : STRING.has(name)
          ? typeof value === 'string'
          : BINARY.has(name) && Buffer.isBuffer(value);
    if (!ok) return { reasonCode: 0x81, why: `property ${name} malformed` };
  }
  return undefined;
}
