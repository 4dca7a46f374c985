/**
 * ABI of the vbus block device (type "vbus-block", version 1): every byte layout and number the
 * device and its driver share, in one place. All fields are little-endian.
 *
 * One request queue (an IOQ). Each descriptor the driver posts points at a 32-byte request
 * header in guest memory (descriptor `len` must be {@link BLOCK_REQ_SIZE}); the header points at
 * the data buffer. The device copies the header out, checks it, does the I/O, writes the status
 * word into the header and completes the descriptor with the number of data bytes moved.
 */

/** Device class type string. */
export const BLOCK_TYPE = 'vbus-block';
/** ABI version. */
export const BLOCK_VERSION = 1;
/** shm id of the request queue. */
export const BLOCK_QUEUE_REQ = 0;

/** Bytes per sector: offsets and counts in requests are in sectors. */
export const BLOCK_SECTOR_SIZE = 512;

// --- request header: {type u32, flags u32, sector u64, count u32, status u32, data u64} --------

/** Request type (u32): one of BLOCK_T_*. */
export const BLOCK_REQ_TYPE = 0x00;
/** Flags (u32): none defined in version 1; must be 0. */
export const BLOCK_REQ_FLAGS = 0x04;
/** First sector (u64). */
export const BLOCK_REQ_SECTOR = 0x08;
/** Sectors (u32): read/write/discard at least 1; flush 0. */
export const BLOCK_REQ_COUNT = 0x10;
/** Status (u32), written by the device on completion: one of BLOCK_S_*. */
export const BLOCK_REQ_STATUS = 0x14;
/** Guest address of the data buffer (u64), `count * BLOCK_SECTOR_SIZE` bytes; 0 for flush and discard. */
export const BLOCK_REQ_DATA = 0x18;
/** Size of the request header, and the only valid descriptor `len`. */
export const BLOCK_REQ_SIZE = 0x20;

/** Read sectors into the data buffer. */
export const BLOCK_T_READ = 0;
/** Write sectors from the data buffer. */
export const BLOCK_T_WRITE = 1;
/** Make every completed write durable (fdatasync for a file). */
export const BLOCK_T_FLUSH = 2;
/** The driver no longer needs these sectors: they read back as zeros afterwards. */
export const BLOCK_T_DISCARD = 3;

/** Done. */
export const BLOCK_S_OK = 0;
/** The backend failed, or a write to a read-only device. */
export const BLOCK_S_IOERR = 1;
/** Unknown request type. */
export const BLOCK_S_UNSUPP = 2;
/** Refused: a field broke a rule (range, length, buffer outside memory or overlapping the header or ring). */
export const BLOCK_S_INVALID = 3;

/**
 * Completion length of a request whose header could not be read (descriptor len is not
 * {@link BLOCK_REQ_SIZE}, or the header lies outside guest memory): there is no status word to
 * write, so the descriptor carries this instead of a byte count.
 */
export const BLOCK_COMPLETE_BAD_HEADER = 0xffff_ffff;

// --- call GET_INFO: reply {capacity u64, sectorSize u32, maxSectors u32, flags u32, queueMax u32} --

/** call: the device's geometry and limits. No argument. Reply: {@link BLOCK_INFO_SIZE} bytes. */
export const BLOCK_CALL_GET_INFO = 0;
/** Capacity in sectors (u64). */
export const BLOCK_INFO_CAPACITY = 0x00;
/** Bytes per sector (u32): {@link BLOCK_SECTOR_SIZE}. */
export const BLOCK_INFO_SECTOR_SIZE = 0x08;
/** Most sectors one read or write may move (u32). */
export const BLOCK_INFO_MAX_SECTORS = 0x0c;
/** BLOCK_F_* bits (u32). */
export const BLOCK_INFO_FLAGS = 0x10;
/** Largest request ring (descriptors) the device accepts (u32). */
export const BLOCK_INFO_QUEUE_MAX = 0x14;
/** Size of the GET_INFO reply. */
export const BLOCK_INFO_SIZE = 0x18;

/** The device refuses writes and discards. */
export const BLOCK_F_READ_ONLY = 1 << 0;
/** The device accepts flush requests (always set in version 1). */
export const BLOCK_F_FLUSH = 1 << 1;
/** The device accepts discard requests (always set in version 1). */
export const BLOCK_F_DISCARD = 1 << 2;
