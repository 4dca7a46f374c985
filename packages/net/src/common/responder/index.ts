/** A minimal guest-side IPv4 host: answers ARP and ping, echoes UDP, pings and resolves. */
export {
  GuestResponder,
  type GuestResponderConfig,
  type GuestResponderEvents,
  type ResponderCounters,
  type PingReply,
  type UdpMessage,
} from './guest-responder.js';
