/**
 * The venet ABI (docs/architecture.md section 3.3): device type "virtual-ethernet", version 1.
 * Every number the guest and the host agree on is here, as a named export. All multi-byte fields
 * are little-endian. Structures use natural alignment (each field at a multiple of its own size),
 * unlike the packed C structs of the 2009 original; the offsets below are the contract.
 */

/** Device class type string. */
export const VENET_TYPE = 'virtual-ethernet';
/** ABI version of the device class. */
export const VENET_VERSION = 1;

// ---- queues (the `shm` ids) ----
/** Receive ring (IOQ): the guest posts empty buffers, the host fills them with frames. */
export const VENET_QUEUE_RX = 0;
/** Transmit ring (IOQ): the guest posts frames (or SG descriptors once SG is negotiated). */
export const VENET_QUEUE_TX = 1;
/**
 * Event ring (IOQ), our choice of id: the guest posts empty event buffers of `evsize` bytes, the
 * host writes one event per buffer. Registered with `shm` under this id, then announced with
 * {@link VENET_FUNC_EVQQUERY}.
 */
export const VENET_QUEUE_EVQ = 2;

// ---- calls (the `call` function numbers) ----
/** Bring the link up (needs RX and TX registered). No argument, empty reply. */
export const VENET_FUNC_LINKUP = 0;
/** Bring the link down. No argument, empty reply. */
export const VENET_FUNC_LINKDOWN = 1;
/** Reply: the 6-byte MAC address. */
export const VENET_FUNC_MACQUERY = 2;
/** Argument and reply: a {@link VENET_CAPS_SIZE}-byte capabilities record; reply bits = available AND requested. */
export const VENET_FUNC_NEGCAP = 3;
/** Give every posted RX buffer back with length 0. No argument, empty reply. */
export const VENET_FUNC_FLUSHRX = 4;
/** Argument: a {@link VENET_PMTD_QUERY_SIZE}-byte pool record (pre-mapped TX descriptors). Empty reply. */
export const VENET_FUNC_PMTDQUERY = 5;
/** Argument: a {@link VENET_EVQ_QUERY_SIZE}-byte record naming the event ring. Empty reply. */
export const VENET_FUNC_EVQQUERY = 6;
/** Layer-4 receive offload query: refused by this host (the L4RO group offers no bits). */
export const VENET_FUNC_L4ROQUERY = 7;

// ---- capabilities: {gid u32, bits u32} ----
/** Offset of `gid` (u32) in a capabilities record. */
export const VENET_CAPS_OFF_GID = 0;
/** Offset of `bits` (u32) in a capabilities record. */
export const VENET_CAPS_OFF_BITS = 4;
/** Size of a capabilities record: gid u32 + bits u32. */
export const VENET_CAPS_SIZE = 8;

/** Group 0: scatter-gather transmit and its offloads. Negotiated first. */
export const VENET_CAP_GROUP_SG = 0;
/** Group 1: the event queue. Negotiated after SG. */
export const VENET_CAP_GROUP_EVENTQ = 1;
/** Group 2: layer-4 receive offload. Negotiated last. */
export const VENET_CAP_GROUP_L4RO = 2;

/** SG group: TX ring descriptors point at SG descriptors. */
export const VENET_CAP_SG = 0x01;
/** SG group: TCPv4 segmentation offload. */
export const VENET_CAP_TSO4 = 0x02;
/** SG group: TCPv6 segmentation offload. */
export const VENET_CAP_TSO6 = 0x04;
/** SG group: ECN with TSO. */
export const VENET_CAP_ECN = 0x08;
/** SG group: UDP fragmentation offload. */
export const VENET_CAP_UFO = 0x10;
/** SG group: pre-mapped TX descriptors (SG descriptors live in a pool announced by PMTDQUERY). */
export const VENET_CAP_PMTD = 0x20;

/** EVENTQ group: link-state events. */
export const VENET_CAP_EVQ_LINKSTATE = 0x01;
/** EVENTQ group: tx-complete events (instead of tx-complete signals). */
export const VENET_CAP_EVQ_TXC = 0x02;

/** L4RO group: receive offload (defined for completeness; this host offers none). */
export const VENET_CAP_L4RO = 0x01;

// ---- scatter-gather descriptor (pointed at by a TX ring descriptor once SG is negotiated) ----
/** cookie u64 @0: the guest's own value, echoed in TXC events. */
export const VENET_SG_OFF_COOKIE = 0;
/** flags u32 @8: {@link VENET_SG_FLAG_NEEDS_CSUM} | {@link VENET_SG_FLAG_GSO} | {@link VENET_SG_FLAG_ECN}. */
export const VENET_SG_OFF_FLAGS = 8;
/** len u32 @12: total frame length (must equal the sum of the iov lengths). */
export const VENET_SG_OFF_LEN = 12;
/** csum.start u16 @16: where checksumming starts, from the frame start. */
export const VENET_SG_OFF_CSUM_START = 16;
/** csum.offset u16 @18: where the checksum goes, from csum.start. */
export const VENET_SG_OFF_CSUM_OFFSET = 18;
/** gso.type u8 @20 ({@link VENET_GSO_TYPE_TCPV4}...), then one pad byte @21. */
export const VENET_SG_OFF_GSO_TYPE = 20;
/** gso.hdrlen u16 @22: bytes of headers before the payload. */
export const VENET_SG_OFF_GSO_HDRLEN = 22;
/** gso.size u16 @24: payload bytes per segment; then two pad bytes @26. */
export const VENET_SG_OFF_GSO_SIZE = 24;
/** count u32 @28: number of iov entries that follow. */
export const VENET_SG_OFF_COUNT = 28;
/** iov[0] @32. */
export const VENET_SG_OFF_IOV = 32;
/** Size of the SG header (everything before iov[]). */
export const VENET_SG_HEADER_SIZE = VENET_SG_OFF_IOV;
/** iov entry: len u32 @0, 4 pad bytes, ptr u64 @8. */
export const VENET_IOV_OFF_LEN = 0;
/** iov entry: ptr u64 @8 (naturally aligned). */
export const VENET_IOV_OFF_PTR = 8;
/** Size of one iov entry: len u32 + pad u32 + ptr u64. */
export const VENET_IOV_SIZE = 16;
/** Most iov entries the host accepts in one SG descriptor (Linux's MAX_SKB_FRAGS 17 + 2 is the original's need). */
export const VENET_SG_MAX_IOV = 64;
/** Bytes of an SG descriptor with `count` iov entries. */
export function venetSgSize(count: number): number {
  return VENET_SG_HEADER_SIZE + count * VENET_IOV_SIZE;
}

/** SG flag: the L4 checksum at csum.start+csum.offset is still to be computed. */
export const VENET_SG_FLAG_NEEDS_CSUM = 1;
/** SG flag: the frame is a GSO super-frame described by gso{}. */
export const VENET_SG_FLAG_GSO = 2;
/** SG flag: the GSO frame has ECN (CWR) set. */
export const VENET_SG_FLAG_ECN = 4;
/** Every SG flag this ABI defines. */
export const VENET_SG_FLAGS_ALL = VENET_SG_FLAG_NEEDS_CSUM | VENET_SG_FLAG_GSO | VENET_SG_FLAG_ECN;

/** gso.type: TCP over IPv4. */
export const VENET_GSO_TYPE_TCPV4 = 0;
/** gso.type: UDP (fragmentation offload). */
export const VENET_GSO_TYPE_UDP = 1;
/** gso.type: TCP over IPv6. */
export const VENET_GSO_TYPE_TCPV6 = 2;

// ---- PMTDQUERY argument ----
/** pool u64 @0: guest address of the pool that holds every SG descriptor. */
export const VENET_PMTD_OFF_POOL = 0;
/** len u32 @8: pool length in bytes. Then 4 pad bytes. */
export const VENET_PMTD_OFF_LEN = 8;
/** Size of the PMTDQUERY argument. */
export const VENET_PMTD_QUERY_SIZE = 16;

// ---- EVQQUERY argument ----
/** flags u32 @0: must be 0. */
export const VENET_EVQ_OFF_FLAGS = 0;
/** evsize u32 @4: size of each event buffer the guest posts (at least {@link VENET_EVENT_MAX_SIZE}). */
export const VENET_EVQ_OFF_EVSIZE = 4;
/** qid u32 @8: the `shm` id of the event ring (this host accepts {@link VENET_QUEUE_EVQ}). */
export const VENET_EVQ_OFF_QID = 8;
/** Size of the EVQQUERY argument: flags u32 + evsize u32 + qid u32 + pad u32. */
export const VENET_EVQ_QUERY_SIZE = 16;

// ---- events (written into event-ring buffers) ----
/** Event header flags u32 @0 (0 today). */
export const VENET_EVENT_OFF_FLAGS = 0;
/** Event header size u32 @4: bytes of the whole event, header included. */
export const VENET_EVENT_OFF_SIZE = 4;
/** Event header id u32 @8: {@link VENET_EVENT_LINKSTATE} or {@link VENET_EVENT_TXC}. */
export const VENET_EVENT_OFF_ID = 8;
/** Size of the event header: flags u32 + size u32 + id u32. */
export const VENET_EVENT_HEADER_SIZE = 12;

/** Event id: link state changed. */
export const VENET_EVENT_LINKSTATE = 0;
/** LINKSTATE: state u8 @12 (1 up, 0 down), then pad to 16. */
export const VENET_EVENT_LINKSTATE_OFF_STATE = VENET_EVENT_HEADER_SIZE;
/** Size of a LINKSTATE event: header + state u8 + 3 pad bytes. */
export const VENET_EVENT_LINKSTATE_SIZE = 16;

/** Event id: a transmitted frame is complete. */
export const VENET_EVENT_TXC = 1;
/** TXC: txqid u32 @12, the queue id the frame went out on. */
export const VENET_EVENT_TXC_OFF_TXQID = VENET_EVENT_HEADER_SIZE;
/** TXC: cookie u64 @16 (naturally aligned): the SG descriptor's cookie. */
export const VENET_EVENT_TXC_OFF_COOKIE = 16;
/** Size of a TXC event: header + txqid u32 + cookie u64. */
export const VENET_EVENT_TXC_SIZE = 24;
/** The largest event this ABI defines (a guest's evsize must be at least this). */
export const VENET_EVENT_MAX_SIZE = VENET_EVENT_TXC_SIZE;

// ---- host defaults from the original venet-tap / guest driver ----
/** Largest ring the host accepts. */
export const VENET_MAX_RING_SIZE = 2048;
/** Default tx-complete mitigation: signal every N frames (and when the queue drains). */
export const VENET_DEFAULT_TX_COMPLETE_EVERY = 10;
/** Default MTU. */
export const VENET_DEFAULT_MTU = 1500;
/** Ethernet header plus one VLAN tag: a plain frame may be MTU + this many bytes. */
export const VENET_FRAME_OVERHEAD = 14 + 4;
/** Largest GSO frame (QEMU's limit: 4096 + 65536). */
export const VENET_MAX_GSO_FRAME = 4096 + 65536;
/** Guest driver defaults: ring size and NAPI poll weight. */
export const VENET_DEFAULT_GUEST_RING_SIZE = 256;
/** Frames the guest driver handles per poll before it yields (NAPI weight), as in the original driver. */
export const VENET_DEFAULT_POLL_WEIGHT = 128;
