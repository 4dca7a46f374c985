/*
 * Independent reference for the virtqueue layouts: the system's <linux/virtio_ring.h> and
 * <linux/virtio_config.h> (Debian package linux-libc-dev). Prints one line per fact; the
 * TypeScript test (src/common/virtqueue/conformance.test.ts) recomputes each and must agree.
 *
 *   C <name> <value>                          a constant or a struct offset/size
 *   L <num> <align> <vring_size> <avail> <used> <used_event> <avail_event>
 *                                             vring_init/vring_size layout, offsets from the base
 *   E <event> <new> <old> <vring_need_event>  EVENT_IDX test
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define C(name, value) printf("C %s %lu\n", name, (unsigned long)(value))

static uint32_t rng = 0x2545F491u;
static uint16_t next16(void) {
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (uint16_t)(rng >> 8);
}

int main(void) {
	C("VRING_DESC_F_NEXT", VRING_DESC_F_NEXT);
	C("VRING_DESC_F_WRITE", VRING_DESC_F_WRITE);
	C("VRING_DESC_F_INDIRECT", VRING_DESC_F_INDIRECT);
	C("VRING_PACKED_DESC_F_AVAIL", VRING_PACKED_DESC_F_AVAIL);
	C("VRING_PACKED_DESC_F_USED", VRING_PACKED_DESC_F_USED);
	C("VRING_USED_F_NO_NOTIFY", VRING_USED_F_NO_NOTIFY);
	C("VRING_AVAIL_F_NO_INTERRUPT", VRING_AVAIL_F_NO_INTERRUPT);
	C("VRING_PACKED_EVENT_FLAG_ENABLE", VRING_PACKED_EVENT_FLAG_ENABLE);
	C("VRING_PACKED_EVENT_FLAG_DISABLE", VRING_PACKED_EVENT_FLAG_DISABLE);
	C("VRING_PACKED_EVENT_FLAG_DESC", VRING_PACKED_EVENT_FLAG_DESC);
	C("VRING_PACKED_EVENT_F_WRAP_CTR", VRING_PACKED_EVENT_F_WRAP_CTR);
	C("VIRTIO_RING_F_INDIRECT_DESC", VIRTIO_RING_F_INDIRECT_DESC);
	C("VIRTIO_RING_F_EVENT_IDX", VIRTIO_RING_F_EVENT_IDX);
	C("VRING_AVAIL_ALIGN_SIZE", VRING_AVAIL_ALIGN_SIZE);
	C("VRING_USED_ALIGN_SIZE", VRING_USED_ALIGN_SIZE);
	C("VRING_DESC_ALIGN_SIZE", VRING_DESC_ALIGN_SIZE);
	C("VIRTIO_F_VERSION_1", VIRTIO_F_VERSION_1);
	C("VIRTIO_F_ACCESS_PLATFORM", VIRTIO_F_ACCESS_PLATFORM);
	C("VIRTIO_F_RING_PACKED", VIRTIO_F_RING_PACKED);
	C("VIRTIO_F_IN_ORDER", VIRTIO_F_IN_ORDER);
	C("VIRTIO_CONFIG_S_ACKNOWLEDGE", VIRTIO_CONFIG_S_ACKNOWLEDGE);
	C("VIRTIO_CONFIG_S_DRIVER", VIRTIO_CONFIG_S_DRIVER);
	C("VIRTIO_CONFIG_S_DRIVER_OK", VIRTIO_CONFIG_S_DRIVER_OK);
	C("VIRTIO_CONFIG_S_FEATURES_OK", VIRTIO_CONFIG_S_FEATURES_OK);
	C("VIRTIO_CONFIG_S_NEEDS_RESET", VIRTIO_CONFIG_S_NEEDS_RESET);
	C("VIRTIO_CONFIG_S_FAILED", VIRTIO_CONFIG_S_FAILED);
	C("sizeof(vring_desc)", sizeof(struct vring_desc));
	C("vring_desc.addr", offsetof(struct vring_desc, addr));
	C("vring_desc.len", offsetof(struct vring_desc, len));
	C("vring_desc.flags", offsetof(struct vring_desc, flags));
	C("vring_desc.next", offsetof(struct vring_desc, next));
	C("vring_avail.flags", offsetof(struct vring_avail, flags));
	C("vring_avail.idx", offsetof(struct vring_avail, idx));
	C("vring_avail.ring", offsetof(struct vring_avail, ring));
	C("vring_used.flags", offsetof(struct vring_used, flags));
	C("vring_used.idx", offsetof(struct vring_used, idx));
	C("vring_used.ring", offsetof(struct vring_used, ring));
	C("sizeof(vring_used_elem)", sizeof(struct vring_used_elem));
	C("vring_used_elem.id", offsetof(struct vring_used_elem, id));
	C("vring_used_elem.len", offsetof(struct vring_used_elem, len));
	C("sizeof(vring_packed_desc)", sizeof(struct vring_packed_desc));
	C("vring_packed_desc.addr", offsetof(struct vring_packed_desc, addr));
	C("vring_packed_desc.len", offsetof(struct vring_packed_desc, len));
	C("vring_packed_desc.id", offsetof(struct vring_packed_desc, id));
	C("vring_packed_desc.flags", offsetof(struct vring_packed_desc, flags));
	C("sizeof(vring_packed_desc_event)", sizeof(struct vring_packed_desc_event));
	C("vring_packed_desc_event.off_wrap", offsetof(struct vring_packed_desc_event, off_wrap));
	C("vring_packed_desc_event.flags", offsetof(struct vring_packed_desc_event, flags));

	static const unsigned long aligns[] = {4, 16, 64, 128, 4096, 65536};
	for (unsigned int num = 1; num <= 32768; num *= 2) {
		for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
			unsigned long align = aligns[a];
			unsigned size = vring_size(num, align);
			/* a real ring: vring_init on memory of vring_size bytes (+ avail_event) */
			char *p = aligned_alloc(65536, ((size + 2 + 65535) / 65536) * 65536);
			if (!p) return 1;
			struct vring vr;
			vring_init(&vr, num, p, align);
			printf("L %u %lu %u %ld %ld %ld %ld\n", num, align, size, (long)((char *)vr.avail - p),
			       (long)((char *)vr.used - p), (long)((char *)&vring_used_event(&vr) - p),
			       (long)((char *)&vring_avail_event(&vr) - p));
			free(p);
		}
	}

	static const uint16_t edge[] = {0, 1, 2, 3, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffd, 0xfffe, 0xffff};
	const size_t ne = sizeof edge / sizeof edge[0];
	for (size_t i = 0; i < ne; i++)
		for (size_t j = 0; j < ne; j++)
			for (size_t k = 0; k < ne; k++)
				printf("E %u %u %u %d\n", edge[i], edge[j], edge[k], vring_need_event(edge[i], edge[j], edge[k]));
	for (int t = 0; t < 20000; t++) {
		uint16_t nw = next16(), old, ev;
		switch (t % 4) {
		case 0: /* all random */
			old = next16(); ev = next16(); break;
		case 1: /* small steps near new */
			old = (uint16_t)(nw - (next16() & 0x3f)); ev = (uint16_t)(nw - (next16() & 0x7f)); break;
		case 2: /* event ahead of new */
			old = (uint16_t)(nw - (next16() & 0xff)); ev = (uint16_t)(nw + (next16() & 0xff)); break;
		default: /* event exactly at the boundaries */
			old = (uint16_t)(nw - (next16() & 0xff)); ev = (t & 8) ? old : (uint16_t)(nw - 1); break;
		}
		printf("E %u %u %u %d\n", ev, nw, old, vring_need_event(ev, nw, old));
	}
	return 0;
}
