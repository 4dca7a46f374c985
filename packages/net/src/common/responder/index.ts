/** A minimal guest-side IPv4 host: answers ARP and ping, echoes UDP, pings and resolves. */
export { GuestResponder } from './guest-responder.js';
export type { GuestResponderConfig } from './responder-config.js';
export type { GuestResponderEvents, ResponderCounters, PingReply, UdpMessage } from './responder-types.js';
