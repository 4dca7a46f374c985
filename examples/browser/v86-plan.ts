// What the Linux guest in the page is and does: its address, its MAC, and the script its
// initramfs runs (built by whoever serves the page; the test builds it from Debian's packages).

/** The Linux guest's address on the page's switch. */
export const LINUX_IP = '192.0.2.2';
/** The MAC the Linux guest gives its NIC (the switch port of v86's NIC accepts only this source). */
export const LINUX_MAC = '52:54:00:12:34:02';
/** Largest UDP payload (and ping data) in one 1500-byte IPv4 packet: 1500 - 20 - 8. */
export const MAX_PAYLOAD = 1472;

/**
 * The guest's script (busybox sh): ping each target (small and MTU-sized), UDP echo at every
 * size 0..1472 off each (udp-echo, a static helper in the initramfs), then wait for a line on the
 * console, so that the page's guests can ping it first.
 */
export function linuxGuestScript(targets: string[]): string {
  return targets
    .flatMap((ip) => [`ping -c 3 -W 5 ${ip}`, `ping -c 2 -W 5 -s ${MAX_PAYLOAD} ${ip}`, `/bin/udp-echo ${ip} 7 0 ${MAX_PAYLOAD}`])
    .concat(['echo VBUS-GUEST-WAITING', 'read -r go', 'echo "VBUS-GUEST-GO $go"'])
    .join('\n');
}
