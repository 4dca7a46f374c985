/** The responder's public record types: what it counts, what it reports, what it emits. */

/** What the responder saw and did. */
export interface ResponderCounters {
  rxFrames: number;
  txFrames: number;
  /** Frames the transmit function refused. */
  txRefused: number;
  arpRequestsIn: number;
  arpRepliesOut: number;
  arpRequestsOut: number;
  arpRepliesIn: number;
  echoRequestsIn: number;
  echoRepliesOut: number;
  echoRequestsOut: number;
  echoRepliesIn: number;
  udpIn: number;
  udpOut: number;
  udpEchoed: number;
  /** Frames not for it or of a kind it does not handle. */
  ignored: number;
  /** Frames with a wrong IP, ICMP or UDP checksum. */
  badChecksum: number;
  /** UDP datagrams to the echo port not echoed because they came from a service port (loop guard). */
  udpEchoRefused: number;
  /** Frames not answered because their source MAC or IPv4 address is a group/broadcast one. */
  groupSource: number;
}

/** Fresh zeroed {@link ResponderCounters}. */
export function newResponderCounters(): ResponderCounters {
  return {
    rxFrames: 0,
    txFrames: 0,
    txRefused: 0,
    arpRequestsIn: 0,
    arpRepliesOut: 0,
    arpRequestsOut: 0,
    arpRepliesIn: 0,
    echoRequestsIn: 0,
    echoRepliesOut: 0,
    echoRequestsOut: 0,
    echoRepliesIn: 0,
    udpIn: 0,
    udpOut: 0,
    udpEchoed: 0,
    ignored: 0,
    badChecksum: 0,
    udpEchoRefused: 0,
    groupSource: 0,
  };
}

/** An answered ping. */
export interface PingReply {
  from: string;
  id: number;
  seq: number;
  /** ICMP data bytes. */
  size: number;
  ttl: number;
  /** Round trip on the responder's clock (virtual ms under a virtual-time scheduler). */
  rttMs: number;
}

/** A UDP datagram the responder received (data copied). */
export interface UdpMessage {
  srcIp: string;
  srcPort: number;
  dstPort: number;
  data: Uint8Array;
}

/** Events of a GuestResponder. */
export interface GuestResponderEvents {
  /** A UDP datagram arrived for it (also for the echo port). */
  udp: (msg: UdpMessage) => void;
  /** An echo reply arrived (whether or not a `ping` waits for it). */
  'echo-reply': (reply: PingReply) => void;
  /** It learned or refreshed an ARP entry. */
  arp: (ip: string, mac: string) => void;
}
