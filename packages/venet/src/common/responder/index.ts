/** A minimal guest-side IPv4 host and packet helpers. */
export * from './packets.js';
export {
  GuestResponder,
  type GuestResponderConfig,
  type GuestResponderEvents,
  type ResponderCounters,
  type PingReply,
  type UdpMessage,
} from './guest-responder.js';
