/**
 * Packet identifiers for the PUBLISH packets a session sends (MQTT §2.2.1): 1..65535,
 * handed out in turn and wrapping around, skipping ids still in use so an id is
 * never reused while its flow is open and 0 is never used ([MQTT-2.2.1-4]; in
 * 3.1.1 [MQTT-2.3.1-1], [MQTT-2.3.1-2]). Pure: the caller says what is
 * in use (its inflight window); no state beyond the last id.
 */

export const MIN_PACKET_ID = 1;
export const MAX_PACKET_ID = 65_535;

/**
 * The id after `last` (wrapping 65535 → 1, never 0) that `inUse`
 * does not claim, or undefined when all 65535 are in use. Costs one `inUse` call
 * per id skipped.
 */
export function nextPacketId(last: number, inUse: (id: number) => boolean): number | undefined {
  let id = last;
  for (let tries = 0; tries < MAX_PACKET_ID; tries++) {
    id = id >= MAX_PACKET_ID || id < MIN_PACKET_ID ? MIN_PACKET_ID : id + 1;
    if (!inUse(id)) return id;
  }
  return undefined;
}

/**
 * The allocator a session keeps. Only the session's own outgoing flows count as
 * in use: ids of QoS 2 messages the client sent (awaiting PUBREL) belong to the
 * client's id space, though passing them too does no harm.
 */
export class PacketIds {
  private lastId: number;

  /** @param last the id handed out last (0: none yet, so the first is 1). */
  constructor(last = 0) {
    if (!Number.isInteger(last) || last < 0 || last > MAX_PACKET_ID) throw new RangeError(`packet id must be 0..65535, got ${last}`);
    this.lastId = last;
  }

  get last(): number {
    return this.lastId;
  }

  /** The next free id, or undefined (and no change) when every id is in use. */
  next(inUse: (id: number) => boolean = () => false): number | undefined {
    const id = nextPacketId(this.lastId, inUse);
    if (id !== undefined) this.lastId = id;
    return id;
  }
}
