/**
 * Broker counters (messages in/out/dropped, connections), incremented on hot paths
 * without allocation: plain number fields on one object.
 */
export class Metrics {
  messagesReceived = 0;
  messagesSent = 0;
  messagesDropped = 0;
  messagesRetained = 0;
  publishNoSubscribers = 0;
  messagesForwarded = 0;
  connects = 0;
  connectsRefused = 0;
  takeovers = 0;
  bytesReceived = 0;
  bytesSent = 0;

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this) as [string, number][]);
  }
}
