// The plugin guide's device, step 1: the ABI. Quoted by docs/plugin-guide.md (regions).
// #region abi
/** Device class type string of the guide's device: it XORs every buffer with a key. */
export const XOR_TYPE = 'xor-cipher';
/** shm id of the one request queue (an IOQ). */
export const XOR_QUEUE_REQ = 0;
/** call: set the key `{key u8}`. Reply: the previous key `{key u8}`. */
export const XOR_CALL_SET_KEY = 0;
/** Completion length of a buffer the device refused (too long, or outside guest memory). */
export const XOR_REFUSED = 0xffff_ffff;
// #endregion abi
